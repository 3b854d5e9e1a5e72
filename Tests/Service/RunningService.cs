using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Service;
using LstmStream.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LstmStream.Tests.Service;

/// <summary>
/// The real <c>serve</c> host, started in-process through <see cref="ServiceRunner"/> on free loopback ports
/// with the demo model, the managed backend and the simulator off (unless the settings say otherwise).
/// Disposing stops it gracefully.
/// </summary>
internal sealed class RunningService : IAsyncDisposable
{
    private readonly Task<int> _run;
    private readonly CancellationTokenSource _stopSource;

    private readonly LogCapture _logs;

    private RunningService(Task<int> run, CancellationTokenSource stopSource, WebApplication app, StringWriter errors, LogCapture logs, HostMetrics metrics)
    {
        _run = run;
        _stopSource = stopSource;
        App = app;
        Errors = errors;
        _logs = logs;
        var tcp = app.Services.GetService<TcpIngress>();
        TcpEndpoint = tcp?.LocalEndpoint;
        HttpBase = new Uri($"http://{app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Hosting.Options.ServiceOptions>>().Value.Http.Endpoint}/");
        Metrics = metrics;
        metrics.Attach(app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
    }

    public static string DemoModel => Path.Combine(SharedData.RepositoryRoot, "models", "demo.onnx");

    public WebApplication App { get; }
    public StringWriter Errors { get; }
    /// <summary>Every log line so far ("Information Category: message").</summary>
    public IReadOnlyCollection<string> Logs => _logs.Lines;
    public IPEndPoint? TcpEndpoint { get; }
    public Uri HttpBase { get; }
    /// <summary>This host's own instruments (<c>/metrics</c> also shows other in-process hosts').</summary>
    public HostMetrics Metrics { get; }
    public PipelineHub Hub => App.Services.GetRequiredService<PipelineHub>();
    public ServiceRuntime Runtime => App.Services.GetRequiredService<ServiceRuntime>();

    public static Task<RunningService> StartAsync(params string[] settings) => StartAsync(null, settings);

    /// <param name="configure">Applied to the host builder after the test's logger (e.g. services a test stands in for).</param>
    public static async Task<RunningService> StartAsync(Action<WebApplicationBuilder>? configure, params string[] settings)
    {
        var args = new List<string>
        {
            $"--LstmStream:Model:Path={DemoModel}",
            "--LstmStream:Math:Backend=managed",
            "--LstmStream:Simulator:Enabled=false",
            "--LstmStream:Tcp:Endpoint=127.0.0.1:0",
            $"--LstmStream:Http:Endpoint=127.0.0.1:{FreePort()}",
            "--LstmStream:Shutdown:Deadline=00:00:20",
        };
        args.AddRange(settings);
        var errors = new StringWriter();
        var logs = new LogCapture();
        var metrics = new HostMetrics();
        var started = new TaskCompletionSource<WebApplication>(TaskCreationOptions.RunContinuationsAsynchronously);
        var service = new CancellationTokenSource();
        var run = Task.Run(() => ServiceRunner.RunAsync([.. args], errors, service.Token,
            builder =>
            {
                builder.Logging.AddProvider(new CapturingLoggerProvider(logs));
                configure?.Invoke(builder);
            },
            app => started.TrySetResult(app)));
        var first = await Task.WhenAny(run, started.Task).WaitAsync(TimeSpan.FromSeconds(60));
        if (first == run)
        {
            metrics.Dispose();
            throw new InvalidOperationException($"service did not start (exit {await run}): {errors}");
        }

        return new RunningService(run, service, await started.Task, errors, logs, metrics);
    }

    /// <summary>The first log line (past or to come) that contains <paramref name="fragment"/>; fails after <paramref name="timeout"/>.</summary>
    public Task<string> WaitForLogAsync(string fragment, TimeSpan timeout) => _logs.WaitForAsync(fragment, timeout);

    /// <summary>Asks for a graceful stop (as SIGTERM does) and returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        await _stopSource.CancelAsync();
        return await _run.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <param name="receiveBufferBytes">The client's socket receive buffer (set before connecting, so the window fits it); 0: the OS default.</param>
    public async Task<TcpClient> ConnectAsync(int receiveBufferBytes = 0)
    {
        var client = new TcpClient { NoDelay = true };
        if (receiveBufferBytes > 0) client.ReceiveBufferSize = receiveBufferBytes;
        await client.ConnectAsync(TcpEndpoint!);
        return client;
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_run.IsCompleted) await StopAsync();
        Metrics.Dispose();
        _stopSource.Dispose();
    }

    /// <summary>The log lines, and a signal for each line a test waits for.</summary>
    private sealed class LogCapture
    {
        private readonly object _gate = new();
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly List<(string Fragment, TaskCompletionSource<string> Seen)> _waiters = [];

        public IReadOnlyCollection<string> Lines => _lines;

        public void Add(string line)
        {
            lock (_gate)
            {
                _lines.Enqueue(line);
                foreach (var waiter in _waiters.Where(w => line.Contains(w.Fragment, StringComparison.Ordinal)).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Seen.TrySetResult(line);
                }
            }
        }

        public Task<string> WaitForAsync(string fragment, TimeSpan timeout)
        {
            var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (_lines.FirstOrDefault(l => l.Contains(fragment, StringComparison.Ordinal)) is { } line) return Task.FromResult(line);
                _waiters.Add((fragment, seen));
            }

            return WaitAsync();

            async Task<string> WaitAsync()
            {
                try
                {
                    return await seen.Task.WaitAsync(timeout);
                }
                catch (TimeoutException)
                {
                    throw new TimeoutException($"no log line with '{fragment}' within {timeout}:\n{string.Join("\n", _lines)}");
                }
            }
        }
    }

    private sealed class CapturingLoggerProvider(LogCapture lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(lines, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(LogCapture lines, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel)) lines.Add($"{logLevel} {category}: {formatter(state, exception)}");
            }
        }
    }
}
