using System.Diagnostics;

namespace LstmStream.Tests.Support;

/// <summary>The real <c>lstmstream</c> executable (<c>dotnet lstmstream.dll …</c>) run to completion as a separate process.</summary>
internal static class LstmStreamProcess
{
    /// <summary>The path of <c>lstmstream.dll</c> beside the tests.</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "lstmstream.dll");

    /// <summary>
    /// Runs <c>lstmstream</c> with <paramref name="args"/>, writes <paramref name="stdin"/> and closes it, and returns the
    /// exit code and everything written to stdout and stderr. <paramref name="environment"/> sets (or, with a null value,
    /// removes) variables of the child only.
    /// </summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string stdin, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The process exited without reading all of its input (e.g. on a start-up error): its exit code tells.
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
