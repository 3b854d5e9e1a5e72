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

    private RunningService(Task<int> run, CancellationTokenSource stopSource, WebApplication app, StringWriter errors, ConcurrentQueue<string> logs)
    {
        _run = run;
        _stopSource = stopSource;
        App = app;
        Errors = errors;
        Logs = logs;
        var tcp = app.Services.GetService<TcpIngress>();
        TcpEndpoint = tcp?.LocalEndpoint;
        HttpBase = new Uri($"http://{app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Hosting.Options.ServiceOptions>>().Value.Http.Endpoint}/");
    }

    public static string DemoModel => Path.Combine(SharedData.RepositoryRoot, "models", "demo.onnx");

    public WebApplication App { get; }
    public StringWriter Errors { get; }
    public ConcurrentQueue<string> Logs { get; }
    public IPEndPoint? TcpEndpoint { get; }
    public Uri HttpBase { get; }
    public PipelineHub Hub => App.Services.GetRequiredService<PipelineHub>();
    public ServiceRuntime Runtime => App.Services.GetRequiredService<ServiceRuntime>();

    public static async Task<RunningService> StartAsync(params string[] settings)
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
        var logs = new ConcurrentQueue<string>();
        var started = new TaskCompletionSource<WebApplication>(TaskCreationOptions.RunContinuationsAsynchronously);
        var service = new CancellationTokenSource();
        var run = Task.Run(() => ServiceRunner.RunAsync([.. args], errors, service.Token,
            builder => builder.Logging.AddProvider(new CapturingLoggerProvider(logs)),
            app => started.TrySetResult(app)));
        var first = await Task.WhenAny(run, started.Task).WaitAsync(TimeSpan.FromSeconds(60));
        if (first == run)
            throw new InvalidOperationException($"service did not start (exit {await run}): {errors}");
        return new RunningService(run, service, await started.Task, errors, logs);
    }

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
        _stopSource.Dispose();
    }

    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(lines, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> lines, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel)) lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}");
            }
        }
    }
}
