using System.Diagnostics;
using System.Net;
using System.Text;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// <c>lstmstream serve</c> as users run it: the built executable of the Hosting project as its own process, the
/// shipped defaults except the model, a free loopback TCP port and metrics port, the simulator off. Ready when
/// <c>/health</c> answers 200; stopped with SIGTERM (graceful drain), killed if it does not exit.
/// </summary>
internal sealed class ServeProcess : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private ServeProcess(Process process, IPEndPoint tcp, Uri metrics)
    {
        _process = process;
        Tcp = tcp;
        Metrics = metrics;
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
    }

    public IPEndPoint Tcp { get; }

    public Uri Metrics { get; }

    /// <summary>Everything the process wrote so far.</summary>
    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <param name="executable">The Hosting project's built <c>lstmstream</c> (apphost) or <c>lstmstream.dll</c>.</param>
    /// <param name="model">The model file.</param>
    /// <param name="settings">More <c>--LstmStream:…=…</c> settings.</param>
    public static ServeProcess Start(string executable, string model, params string[] settings)
    {
        var tcp = new IPEndPoint(IPAddress.Loopback, FreePort.Next());
        var http = $"127.0.0.1:{FreePort.Next()}";
        var dll = executable.EndsWith(".dll", StringComparison.Ordinal);
        var start = new ProcessStartInfo(dll ? "dotnet" : executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(executable)!,
        };
        if (dll) start.ArgumentList.Add(executable);
        // No session store: appsettings' default file would outlive the run, so a later run's seq would be answered as
        // duplicates (not stepped), and commit records would mix with the outputs.
        foreach (var arg in new[] { "serve", "--model", model, "--no-simulator", "--tcp", tcp.ToString(), "--metrics", http, "--LstmStream:Sessions:Store=none" }
                     .Concat(settings))
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{executable} did not start");
        var serve = new ServeProcess(process, tcp, new Uri($"http://{http}/metrics"));
        try
        {
            serve.WaitUntilHealthy(new Uri($"http://{http}/health"));
        }
        catch
        {
            serve.Dispose();
            throw;
        }

        return serve;
    }

    private void WaitUntilHealthy(Uri health)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"serve exited with code {_process.ExitCode} at start:\n{Log}");
            try
            {
                using var answer = _http.GetAsync(health).GetAwaiter().GetResult();
                if (answer.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
            }

            if (deadline.Elapsed > StartTimeout) throw new TimeoutException($"serve was not healthy within {StartTimeout.TotalSeconds} s:\n{Log}");
            Thread.Sleep(100);
        }
    }

    /// <summary>The process, for its processor time.</summary>
    public Process Process => _process;

    /// <summary>The Prometheus text of <c>/metrics</c> now.</summary>
    public string Scrape() => _http.GetStringAsync(Metrics).GetAwaiter().GetResult();

    /// <summary>The server's record latency histogram of <paramref name="channel"/> now.</summary>
    public PrometheusLatency ScrapeLatency(string channel) => PrometheusLatency.Parse(Scrape(), channel);

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            if (_log.Length < 1 << 20) _log.AppendLine(line);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill?.WaitForExit();
                if (!_process.WaitForExit(TimeSpan.FromSeconds(30))) _process.Kill(entireProcessTree: true);
            }
        }
        finally
        {
            _process.Dispose();
            _http.Dispose();
        }
    }
}
