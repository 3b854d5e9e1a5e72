using System.Diagnostics;
using Akka;
using Akka.Actor;
using Akka.Hosting;
using LstmStream.Actors.Cluster;
using LstmStream.Actors.Pipelines;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using static LstmStream.Actors.Pipelines.PipelineOwnerProtocol;

namespace LstmStream.Hosting.Service;

/// <summary>
/// The service's life. At start: load the model and its backends (<see cref="ServedModel"/>), have the
/// <see cref="PipelineOwnerActor"/> (registered with Akka.Hosting) materialize the <see cref="PipelineHub"/>'s graph,
/// start every registered <see cref="IIngress"/>, log one start-up line and start the <see cref="StatisticsLogger"/>.
/// At stop (SIGTERM / Ctrl-C through the host, or Akka's CoordinatedShutdown) it drains: ingresses stop accepting
/// and deliver the outputs of every record they accepted, then the pipeline completes, all within
/// <see cref="ShutdownSettings.Deadline"/>.
/// </summary>
public sealed class ServiceRuntime : IHostedService, IServiceHealth
{
    /// <summary>How long materializing the pipeline may take.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly ServiceOptions _options;
    private readonly ActorSystem _system;
    private readonly IRequiredActor<PipelineOwnerActor> _owner;
    private readonly PipelineHub _hub;
    private readonly SessionStoreService _sessionStore;
    private readonly IReadOnlyList<IIngress> _ingresses;
    private readonly ServiceMetrics _metrics;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger<ServiceRuntime> _logger;
    private readonly HandOffFigures? _handOffs;
    private readonly LogBudget _refusedStateLog = new();
    private readonly string _contentRoot;
    private readonly object _drainGate = new();
    private Task? _drain;
    private Task? _completePipeline;
    private bool _started;
    private volatile bool _stopping;
    private StatisticsLogger? _statistics;
    private EvictionLog? _evictions;

    public ServiceRuntime(IOptions<ServiceOptions> options, ActorSystem system, IRequiredActor<PipelineOwnerActor> owner, PipelineHub hub,
        SessionStoreService sessionStore, IEnumerable<IIngress> ingresses, ServiceMetrics metrics, IHostApplicationLifetime lifetime, IHostEnvironment environment,
        TimeProvider time, ILoggerFactory loggers, HandOffFigures? handOffs = null)
    {
        _handOffs = handOffs;
        _options = options.Value;
        _system = system;
        _owner = owner;
        _hub = hub;
        _sessionStore = sessionStore;
        _ingresses = ingresses.ToArray();
        _metrics = metrics;
        _lifetime = lifetime;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<ServiceRuntime>();
        _contentRoot = environment.ContentRootPath;
    }

    /// <summary>The start-up line (after start).</summary>
    public string? StartupLine { get; private set; }

    /// <summary>0, or 1 when the pipeline failed or the shutdown deadline cut off records in flight.</summary>
    public int ExitCode { get; private set; }

    /// <summary>Started, not stopping, pipeline running.</summary>
    public bool IsHealthy => !_stopping && _hub.IsRunning;

    /// <summary>Serving, but the session store could not be written by the last checkpoint (retrying).</summary>
    public bool IsDegraded => _sessionStore.IsDegraded;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var served = ServedModel.Load(_options, _contentRoot);
        var model = served.Model;
        if (served.BackendName == MatMulBackendRegistry.Auto)
        {
            // auto chose among the backends that load; say why the others were left out (e.g. MKL installed but its
            // OpenMP runtime missing), so the service runs on the rest and the log says what it is missing.
            foreach (var unavailable in MatMulBackendRegistry.ProbeAll().Where(p => !p.IsAvailable))
                _logger.LogInformation("Math backend {Backend} is unavailable, auto chose among the others: {Reason}", unavailable.Name, unavailable.Reason);
        }

        var store = await _sessionStore.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (store is not null) _metrics.AttachStore(store.Figures);
        _evictions = new EvictionLog(_logger, TimeProvider.System, _options.Sessions.EvictionLogInterval, _options.Sessions.MaxLiveKeys,
            _options.Sessions.IdleTimeout);
        var flow = LstmPipeline.Create(model, served.Backends, PipelineSettings.Create(_options, _evictions.Record, store, OnStoredStateRefused));
        var owner = await _owner.GetAsync(cancellationToken).ConfigureAwait(false);
        var started = await owner.Ask<PipelineStarted>(new StartPipeline(_hub.Graph(flow, model.InputSize)), StartTimeout, cancellationToken)
            .ConfigureAwait(false);
        _hub.Attach(started.Handle, started.Completion);
        if (_options.Cluster.Enabled)
        {
            // Cluster mode: every accepted record goes to its bucket's owner (maybe this node) through the shard region.
            var registry = ActorRegistry.For(_system);
            _hub.AttachRouting(await registry.GetAsync<BucketShards>(cancellationToken).ConfigureAwait(false),
                await registry.GetAsync<RoutedOutputsActor>(cancellationToken).ConfigureAwait(false), _options.Sessions.Buckets,
                2 * _options.Cluster.HandOffTimeout + TimeSpan.FromSeconds(30));
        }

        _started = true;
        _sessionStore.StartCheckpoints(started.Handle.State, _hub.OutputsSentAsync);
        _metrics.AttachPipeline(started.Handle.Sessions, served.BackendName, served.Backends.Choices, _hub);
        _ = _hub.Completion.ContinueWith(OnPipelineStopped, TaskScheduler.Default);

        var shutdown = CoordinatedShutdown.Get(_system);
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "lstmstream-drain",
            async () =>
            {
                await DrainAsync().ConfigureAwait(false);
                return Done.Instance;
            });
        if (_options.Cluster.Enabled)
        {
            // Cluster mode: the pipeline runs on after the drain of this node's ingresses, through the shard region's
            // shutdown, in which every bucket of this node is handed off (its keys exported and freed, ordered after the
            // records other nodes routed here); only then is it completed.
            shutdown.AddTask(ClusterHosting.BucketsHandedOffPhase, "lstmstream-tell-origins",
                async () =>
                {
                    await TellOriginsEverythingSteppedAsync().ConfigureAwait(false);
                    return Done.Instance;
                });
            shutdown.AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "lstmstream-pipeline-complete",
                async () =>
                {
                    await CompletePipelineAsync().ConfigureAwait(false);
                    return Done.Instance;
                });
        }

        foreach (var ingress in _ingresses) await ingress.StartAsync(_hub, cancellationToken).ConfigureAwait(false);

        var http = _options.Http.Enabled ? $"http://{_options.Http.Endpoint} (/metrics, /health, /admin)" : "off";
        StartupLine =
            $"LstmStream serving {served.Description}; " +
            $"backend {served.BackendName}, {_options.Math.Threads} thread(s) [{string.Join("; ", served.Backends.Choices)}]; " +
            $"batch ≤ {_options.Batch.MaxRows} rows, {(_options.Batch.MaxDelayMilliseconds > 0 ? $"lingering ≤ {_options.Batch.MaxDelayMilliseconds} ms" : "on demand")}; " +
            $"ingress {(_ingresses.Count == 0 ? "none" : string.Join(", ", _ingresses.Select(i => i.Description)))}; http {http}; " +
            $"sessions {_sessionStore.Location.Description}; " +
            $"cluster {(_options.Cluster.Enabled ? $"{Akka.Cluster.Cluster.Get(_system).SelfAddress}, {_options.Cluster.Shards} shards" : "off")}";
        // Said once the host has started every part, the HTTP server included (it starts after the hosted services): a
        // reader of this line (a person, a script, a test) can reach every endpoint it names.
        _lifetime.ApplicationStarted.Register(() => _logger.LogInformation("{StartupLine}", StartupLine));
        if (_options.StatisticsInterval > TimeSpan.Zero)
        {
            var sessions = started.Handle.Sessions;
            _statistics = new StatisticsLogger(_options.StatisticsInterval, () => _hub.Steps, () => _hub.IsRunning ? sessions.LiveKeys : 0, _hub,
                _time, _loggers.CreateLogger<StatisticsLogger>());
        }
    }

    /// <summary>
    /// Host stop (SIGTERM, Ctrl-C): the drain. In cluster mode the node leaves the cluster through Akka's
    /// CoordinatedShutdown, whose phases run the drain of the ingresses, then the hand-off of this node's buckets while the
    /// pipeline still steps them, the leave, and the pipeline's completion (<see cref="CompletePipelineAsync"/>).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_options.Cluster.Enabled || !_started)
        {
            await DrainAsync().ConfigureAwait(false);
            return;
        }

        await CoordinatedShutdown.Get(_system).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        // CoordinatedShutdown may have been cut short (a phase timed out): the pipeline completes in any case.
        await CompletePipelineAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Stops every ingress gracefully, then (not in cluster mode) completes the pipeline; runs once (host stop or
    /// CoordinatedShutdown).
    /// </summary>
    public Task DrainAsync()
    {
        lock (_drainGate) return _drain ??= DrainOnceAsync();
    }

    /// <summary>
    /// Cluster mode, after this node's buckets were handed off: a last checkpoint of whatever the pipeline still holds (the
    /// buckets whose hand-off failed or timed out), then the pipeline completes. Runs once.
    /// </summary>
    public Task CompletePipelineAsync()
    {
        lock (_drainGate) return _completePipeline ??= CompletePipelineOnceAsync();
    }

    /// <summary>Keys live in this node's pipeline now (none once it has stopped).</summary>
    private int LiveKeys => _hub.IsRunning ? _hub.Handle.Sessions.LiveKeys : 0;

    /// <summary>
    /// Cluster mode, leaving, after the hand-off of this node's buckets and before the leave: when every hand-off wrote its
    /// keys, the nodes whose records were stepped here are told that all of it is stored; otherwise they are not, and when
    /// this node is removed they make their sources deliver again what they have not acknowledged or committed.
    /// </summary>
    private async Task TellOriginsEverythingSteppedAsync()
    {
        try
        {
            var unfinished = _handOffs?.HandOffsUnfinished ?? 0;
            var hosted = _hub.BucketsHostedHere;
            var live = LiveKeys;
            if (unfinished > 0 || hosted > 0 || live > 0)
            {
                _logger.LogWarning("Not every record stepped here is stored ({Unfinished} hand-off(s) unfinished, {Hosted} bucket(s) still here, {Live} key(s) " +
                                   "live): the nodes whose records were stepped here will make their sources deliver again once this node is removed",
                    unfinished, hosted, live);
                return;
            }

            // Nodes leaving too (the whole cluster stopping) are not asked: they would not answer.
            var up = Akka.Cluster.Cluster.Get(_system).State.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up).Select(m => m.Address).ToHashSet();
            var (told, answered) = await _hub.TellOriginsEverythingSteppedAsync(up.Contains, ClusterHosting.OriginsAnswerTimeout).ConfigureAwait(false);
            if (answered < told)
                _logger.LogWarning("{Missing} of {Told} node(s) did not answer that all this node stepped for them is stored: they will make their sources " +
                                   "deliver again once this node is removed", told - answered, told);
            else if (told > 0)
                _logger.LogInformation("Every bucket handed off: told {Told} node(s) that all this node stepped for them is stored", told);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Telling the nodes whose records were stepped here that all of it is stored failed: they will deliver again");
        }
    }

    private async Task CompletePipelineOnceAsync()
    {
        await DrainAsync().ConfigureAwait(false);
        if (!_started) return;
        using var deadline = new CancellationTokenSource(_options.Shutdown.Deadline);
        try
        {
            var live = LiveKeys;
            if (live > 0)
            {
                _logger.LogWarning("{Keys} key(s) are still live after the hand-off of this node's buckets: checkpointed before the pipeline stops", live);
                if (!await _sessionStore.FinalCheckpointAsync(deadline.Token).ConfigureAwait(false)) ExitCode = 1;
            }

            await _hub.CompleteAsync().WaitAsync(deadline.Token).ConfigureAwait(false);
            _logger.LogInformation("Pipeline stopped after the hand-off of this node's buckets");
        }
        catch (OperationCanceledException)
        {
            ExitCode = 1;
            _logger.LogError("Shutdown deadline {Deadline} passed while the pipeline completed", _options.Shutdown.Deadline);
        }
        catch (Exception e)
        {
            ExitCode = 1;
            _logger.LogError(e, "Pipeline failed while stopping");
        }
    }

    private async Task DrainOnceAsync()
    {
        _stopping = true;
        if (_statistics is not null) await _statistics.DisposeAsync().ConfigureAwait(false);
        if (!_started) return;
        _evictions?.Flush();
        var started = Stopwatch.StartNew();
        _logger.LogInformation("Stopping: no new input; delivering the outputs of every accepted record (deadline {Deadline})", _options.Shutdown.Deadline);
        using var deadline = new CancellationTokenSource(_options.Shutdown.Deadline);
        try
        {
            await Task.WhenAll(_ingresses.Select(i => i.StopAsync(deadline.Token))).ConfigureAwait(false);
            // Every accepted record has been stepped: store every key stepped since the last checkpoint before the pipeline ends.
            if (!await _sessionStore.FinalCheckpointAsync(deadline.Token).ConfigureAwait(false)) ExitCode = 1;
            // Sources that follow the checkpoints (MQTT acknowledgement) answer for what the final one stored.
            await Task.WhenAll(_ingresses.Select(i => i.FinishAsync(deadline.Token))).ConfigureAwait(false);
            if (_options.Cluster.Enabled)
            {
                // The pipeline steps on for the buckets of this node until they are handed off (CompletePipelineAsync).
                _logger.LogInformation("Ingresses stopped in {Elapsed:F0} ms: every accepted record's output was delivered; handing off this node's buckets",
                    started.Elapsed.TotalMilliseconds);
                return;
            }

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
            _evictions?.Dispose();
        }
    }

    /// <summary>
    /// A stored state of another model was not used (the key starts from zero; counted in the pipeline's figures). On the
    /// session stage's thread: logged within a budget, key and identity escaped, never a line per key in a flood.
    /// </summary>
    private void OnStoredStateRefused(string key, string storedModel)
    {
        if (!_refusedStateLog.TryWrite(out var heldBack)) return;
        _logger.LogWarning("Stored state of key {Key} was written by model {StoredModel}, not the served one: the key starts from zero state ({HeldBack} more not logged)",
            LoggedText.Of(key), LoggedText.Of(storedModel), heldBack);
    }

    private void OnPipelineStopped(Task completion)
    {
        if (!completion.IsFaulted || _stopping) return;
        ExitCode = 1;
        _logger.LogCritical(completion.Exception?.GetBaseException(), "The pipeline failed; stopping the service");
        _lifetime.StopApplication();
    }
}
