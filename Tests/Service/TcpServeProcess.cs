using System.Diagnostics;
using System.Globalization;
using System.Text;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Service;

/// <summary>
/// <c>lstmstream serve</c> as a real process with the demo model (managed backend), TCP and HTTP on given loopback ports
/// (so a restart binds the same ones) and the simulator off; the log is collected from stderr. It can be stopped with
/// SIGTERM or killed with SIGKILL (kill -9).
/// </summary>
internal sealed class TcpServeProcess : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TcpServeProcess(Process process, int tcpPort, int httpPort)
    {
        _process = process;
        TcpPort = tcpPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public int TcpPort { get; }

    /// <summary>The loopback HTTP port's client (metrics, admin).</summary>
    public HttpClient Http { get; }

    /// <summary>Everything logged so far.</summary>
    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <summary>Starts serve and waits until it logged its start-up line (pipeline up, ports bound).</summary>
    public static async Task<TcpServeProcess> StartAsync(int tcpPort, int httpPort, params string[] settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     LstmStreamProcess.Dll, "serve", "--model", RunningService.DemoModel, "--no-simulator", "--LstmStream:Math:Backend=managed",
                     $"--LstmStream:Tcp:Endpoint=127.0.0.1:{tcpPort}", $"--LstmStream:Http:Endpoint=127.0.0.1:{httpPort}",
                 }.Concat(settings))
        {
            start.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var serve = new TcpServeProcess(process, tcpPort, httpPort);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (serve._log) serve._log.AppendLine(e.Data);
            if (e.Data.Contains("LstmStream serving", StringComparison.Ordinal)) serve._ready.TrySetResult();
        };
        process.OutputDataReceived += (_, _) => { };
        process.Exited += (_, _) => serve._ready.TrySetException(new InvalidOperationException("serve exited before it was ready"));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            await serve._ready.Task.WaitAsync(StartTimeout);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            serve.Dispose();
            throw new InvalidOperationException($"serve did not start ({e.Message}):\n{serve.Log}");
        }

        return serve;
    }

    /// <summary>kill -9: the process dies at once, nothing is drained or checkpointed.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>SIGTERM (graceful drain); returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Http.Dispose();
        try
        {
            if (!_process.HasExited) _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        _process.Dispose();
    }
}
