using System.Diagnostics;
using Akka;
using Akka.Actor;
using Akka.Streams;
using LstmStream.Actors.Sessions;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Native;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Service;

/// <summary>
/// The service's life: at start it loads the model, chooses the math backends, runs the shared
/// <see cref="PipelineHub"/> on the Akka.Hosting actor system, starts every registered <see cref="IIngress"/> and
/// logs one start-up line. At stop (SIGTERM / Ctrl-C through the host, or Akka's CoordinatedShutdown) it drains:
/// ingresses stop accepting and deliver the outputs of every record they accepted, then the pipeline completes,
/// all within <see cref="ShutdownSettings.Deadline"/>.
/// </summary>
public sealed class ServiceRuntime : IHostedService
{
    private readonly ServiceOptions _options;
    private readonly ActorSystem _system;
    private readonly PipelineHub _hub;
    private readonly IReadOnlyList<IIngress> _ingresses;
    private readonly ServiceMetrics _metrics;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ServiceRuntime> _logger;
    private readonly string _contentRoot;
    private readonly object _drainGate = new();
    private Task? _drain;
    private ActorMaterializer? _materializer;
    private volatile bool _stopping;
    private Timer? _statistics;
    private long _lastSteps;
    private long _lastStatisticsTicks;

    public ServiceRuntime(IOptions<ServiceOptions> options, ActorSystem system, PipelineHub hub, IEnumerable<IIngress> ingresses,
        ServiceMetrics metrics, IHostApplicationLifetime lifetime, IHostEnvironment environment, ILogger<ServiceRuntime> logger)
    {
        _options = options.Value;
        _system = system;
        _hub = hub;
        _ingresses = ingresses.ToArray();
        _metrics = metrics;
        _lifetime = lifetime;
        _logger = logger;
        _contentRoot = environment.ContentRootPath;
    }

    /// <summary>The running pipeline's <see cref="SessionAdminActor"/> (after start): where admin commands go.</summary>
    public IActorRef? SessionAdmin { get; private set; }

    /// <summary>The model being served (after start).</summary>
    public LstmModel? Model { get; private set; }

    /// <summary>The start-up line (after start).</summary>
    public string? StartupLine { get; private set; }

    /// <summary>The ingresses, started in this order.</summary>
    public IReadOnlyList<IIngress> Ingresses => _ingresses;

    /// <summary>0, or 1 when the pipeline failed or the shutdown deadline cut off records in flight.</summary>
    public int ExitCode { get; private set; }

    /// <summary>Started, not stopping, pipeline running.</summary>
    public bool IsHealthy => !_stopping && _hub.IsRunning;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var path = ModelFile.Resolve(_options.Model.Path, _contentRoot)
                   ?? throw new ServiceStartException($"{ServiceOptions.SectionName}:Model:Path: model file '{_options.Model.Path}' does not exist");
        LstmModel model;
        try
        {
            model = ModelLoader.Load(path, _options.Model.ToLoadOptions());
        }
        catch (Exception e) when (e is ModelFormatException or IOException or InvalidDataException or ArgumentException or NotSupportedException)
        {
            throw new ServiceStartException($"{ServiceOptions.SectionName}:Model:Path: {e.Message}", e);
        }

        ModelMatMulBackends backends;
        var backendName = MatMulBackendFactory.Normalize(_options.Math.Backend);
        try
        {
            backends = MatMulBackendFactory.CreateForModel(backendName, _options.Math.Threads, model);
        }
        catch (MatMulBackendUnavailableException e)
        {
            throw new ServiceStartException($"{ServiceOptions.SectionName}:Math:Backend: {e.Message}", e);
        }

        var flow = LstmPipeline.Create(model, backends, PipelineSettings.Create(_options, OnKeyEvicted));
        _materializer = ActorMaterializer.Create(_system, namePrefix: "lstmstream");
        _hub.Start(flow, model.InputSize, _materializer);
        SessionAdmin = _system.ActorOf(SessionAdminActor.Props(_hub.Handle.State), "session-admin");
        Model = model;
        _metrics.AttachPipeline(_hub.Handle.Sessions, backendName, backends.Choices, () => _hub.Links.Sum(l => (long)l.Credit.InUse));
        _ = _hub.Completion.ContinueWith(OnPipelineStopped, TaskScheduler.Default);

        CoordinatedShutdown.Get(_system).AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "lstmstream-drain",
            async () =>
            {
                await DrainAsync().ConfigureAwait(false);
                return Done.Instance;
            });

        foreach (var ingress in _ingresses) await ingress.StartAsync(_hub, cancellationToken).ConfigureAwait(false);

        var http = _options.Http.Enabled ? $"http://{_options.Http.Endpoint} (/metrics, /health, /admin)" : "off";
        StartupLine =
            $"LstmStream serving {model.Source}: {ModelDescription.OneLine(model)} ({model.Layers.Count} LSTM layers, {model.ParameterCount:N0} parameters); " +
            $"backend {backendName}, {_options.Math.Threads} thread(s) [{string.Join("; ", backends.Choices)}]; " +
            $"batch ≤ {_options.Batch.MaxRows} rows / {_options.Batch.MaxDelayMilliseconds} ms; " +
            $"ingress {(_ingresses.Count == 0 ? "none" : string.Join(", ", _ingresses.Select(i => i.Description)))}; http {http}";
        _logger.LogInformation("{StartupLine}", StartupLine);
        if (_options.StatisticsInterval > TimeSpan.Zero)
        {
            _lastStatisticsTicks = Stopwatch.GetTimestamp();
            _statistics = new Timer(_ => LogStatistics(), null, _options.StatisticsInterval, _options.StatisticsInterval);
        }
    }

    private void LogStatistics()
    {
        var steps = _hub.Steps;
        var now = Stopwatch.GetTimestamp();
        var seconds = Stopwatch.GetElapsedTime(_lastStatisticsTicks, now).TotalSeconds;
        var rate = seconds > 0 ? (steps - _lastSteps) / seconds : 0;
        (_lastSteps, _lastStatisticsTicks) = (steps, now);
        var links = _hub.Links;
        _logger.LogInformation("statistics: {Steps} steps ({Rate:F0}/s), {LiveKeys} live keys, {Channels} channels, {InFlight} records in flight",
            steps, rate, _hub.IsRunning ? _hub.Handle.Sessions.LiveKeys : 0, links.Count, links.Sum(l => (long)l.Credit.InUse));
    }

    public Task StopAsync(CancellationToken cancellationToken) => DrainAsync();

    /// <summary>Stops every ingress gracefully, then completes the pipeline; runs once (host stop or CoordinatedShutdown).</summary>
    public Task DrainAsync()
    {
        lock (_drainGate) return _drain ??= DrainOnceAsync();
    }

    private async Task DrainOnceAsync()
    {
        _stopping = true;
        if (_statistics is not null) await _statistics.DisposeAsync().ConfigureAwait(false);
        if (_materializer is null) return;
        var started = Stopwatch.StartNew();
        _logger.LogInformation("Stopping: no new input; delivering the outputs of every accepted record (deadline {Deadline})", _options.Shutdown.Deadline);
        using var deadline = new CancellationTokenSource(_options.Shutdown.Deadline);
        try
        {
            await Task.WhenAll(_ingresses.Select(i => i.StopAsync(deadline.Token))).ConfigureAwait(false);
            await _hub.CompleteAsync().WaitAsync(deadline.Token).ConfigureAwait(false);
            _logger.LogInformation("Stopped in {Elapsed:F0} ms: every accepted record's output was delivered", started.Elapsed.TotalMilliseconds);
        }
        catch (OperationCanceledException)
        {
            ExitCode = 1;
            _logger.LogError("Shutdown deadline {Deadline} passed: records still in flight were dropped", _options.Shutdown.Deadline);
        }
        catch (Exception e)
        {
            ExitCode = 1;
            _logger.LogError(e, "Pipeline failed while stopping");
        }
        finally
        {
            _materializer.Dispose();
        }
    }

    /// <summary>
    /// An evicted key (its next step starts from zero state); counted in <see cref="SessionCounters"/>. Bound
    /// evictions mean the live-key bound is too small for the traffic, so they are logged at Information;
    /// idle ones are routine (Debug).
    /// </summary>
    private void OnKeyEvicted(string key, EvictionReason reason)
    {
        if (reason == EvictionReason.Bound)
            _logger.LogInformation("Evicted key {Key}: the live-key bound {MaxLiveKeys} was reached (least recently used)", key, _options.Sessions.MaxLiveKeys);
        else
            _logger.LogDebug("Evicted key {Key}: idle for {IdleTimeout}", key, _options.Sessions.IdleTimeout);
    }

    private void OnPipelineStopped(Task completion)
    {
        if (!completion.IsFaulted || _stopping) return;
        ExitCode = 1;
        _logger.LogCritical(completion.Exception?.GetBaseException(), "The pipeline failed; stopping the service");
        _lifetime.StopApplication();
    }
}
