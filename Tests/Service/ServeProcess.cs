using System.Diagnostics;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Service;

/// <summary>
/// <c>lstmstream serve</c> as a real process with the demo model, the stdin/stdout channel on and TCP, HTTP and the
/// simulator off: lines go in on stdin, outputs come back on stdout, the log is collected from stderr, SIGTERM stops it.
/// </summary>
internal sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    private ServeProcess(Process process)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Starts serve with <paramref name="settings"/> added to the defaults and <paramref name="environment"/> set for the child.</summary>
    /// <param name="model">The model file; null: the demo model.</param>
    public static ServeProcess Start(IEnumerable<string> settings, IReadOnlyDictionary<string, string?>? environment = null, string? model = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     LstmStreamProcess.Dll, "serve", "--model", model ?? RunningService.DemoModel, "--no-simulator",
                     "--LstmStream:Console:Enabled=true", "--LstmStream:Tcp:Enabled=false", "--LstmStream:Http:Enabled=false",
                 }.Concat(settings))
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }

        return new ServeProcess(Process.Start(start)!);
    }

    public async Task WriteLinesAsync(params string[] lines)
    {
        foreach (var line in lines) await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>The next <paramref name="count"/> lines of stdout; the log so far in the error if stdout ends first.</summary>
    public async Task<List<string>> ReadLinesAsync(int count, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        while (lines.Count < count)
            lines.Add(await _process.StandardOutput.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException(await _stderr));
        return lines;
    }

    /// <summary>Sends SIGTERM and returns the exit code and the whole log.</summary>
    public async Task<(int Exit, string Log)> StopAsync(CancellationToken cancellationToken)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync(cancellationToken);
        await _process.WaitForExitAsync(cancellationToken);
        return (_process.ExitCode, await _stderr);
    }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Kills the process as a crash would (SIGKILL: no drain, no final checkpoint) and returns its log.</summary>
    public async Task<string> KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
        return await _stderr;
    }

    /// <summary>Waits for the process to end by itself (a refused start) and returns the exit code and the whole log.</summary>
    public async Task<(int Exit, string Log)> ExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return (_process.ExitCode, await _stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }
}
