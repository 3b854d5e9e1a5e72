using System.Diagnostics;

namespace LstmStream.Tests.Examples;

/// <summary>
/// A command-line tool from a Debian package the tests need (<c>scripts/test.sh</c> installs them): found on the
/// usual paths, run to the end with its output kept. Fails, never skips, when the tool is missing.
/// </summary>
internal static class ExternalTool
{
    public static string Find(string name, string package)
    {
        var directories = new[] { "/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        return directories.Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists)
               ?? throw new InvalidOperationException(
                   $"These tests need '{name}', which is not installed: run scripts/test.sh (it installs the Debian package '{package}') " +
                   $"or 'apt-get install {package}'.");
    }

    /// <summary>Runs the tool and returns its exit code and everything it printed (stdout, then stderr).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string executable, params string[] args)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }

        return (process.ExitCode, (await output) + (await error));
    }
}
