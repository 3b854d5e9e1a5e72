using Akka.Actor;
using Akka.Hosting;
using LstmStream.Actors.Cluster;
using LstmStream.Actors.Persistence;
using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Service;

/// <summary>
/// Durable sessions in <c>serve</c>: opens the store named by <c>LstmStream:Sessions:Store</c> (through the
/// <see cref="BucketRegionActor"/> registered in the one <c>AddAkka</c> call; the bucket count is checked), starts the
/// <see cref="CheckpointCoordinatorActor"/> on the running pipeline, takes the final checkpoint of the drain and answers
/// the admin path (checkpoint now, a key's stored state). With <c>Store: none</c> it does nothing.
/// </summary>
public sealed class SessionStoreService : ISessionStoreAccess
{
    private readonly SessionSettings _settings;
    private readonly bool _clustered;
    private readonly ActorSystem _system;
    private readonly ActorRegistry _registry;
    private readonly Func<PipelineStateAccess, ICheckpointSource> _checkpointSource;
    private readonly ILogger<SessionStoreService> _logger;
    private readonly LocalBuckets? _localBuckets;
    private PersistentSessionStore? _store;
    private IActorRef? _coordinator;

    /// <param name="checkpointSource">Reads checkpoints out of the running pipeline; null: <see cref="PipelineCheckpointSource"/> over its state access (tests pass a fake).</param>
    /// <param name="localBuckets">Cluster mode: this node's bucket entities, which the pipeline's store messages go to straight.</param>
    public SessionStoreService(IOptions<ServiceOptions> options, ActorSystem system, ActorRegistry registry, CheckpointRounds rounds,
        ILogger<SessionStoreService> logger, Func<PipelineStateAccess, ICheckpointSource>? checkpointSource = null, LocalBuckets? localBuckets = null)
    {
        _localBuckets = localBuckets;
        Rounds = rounds;
        _settings = options.Value.Sessions;
        _clustered = options.Value.Cluster.Enabled;
        _system = system;
        _registry = registry;
        _logger = logger;
        _checkpointSource = checkpointSource ?? (state => new PipelineCheckpointSource(state));
        Location = _settings.StoreLocation();
    }

    public SessionStoreLocation Location { get; }

    public bool Enabled => Location.Kind != SessionStoreKind.None;

    /// <summary>The checkpoints' numbering, which the sources follow to acknowledge and commit what is stored.</summary>
    public CheckpointRounds Rounds { get; }

    /// <summary>The open store (after <see cref="OpenAsync"/>), or null.</summary>
    public PersistentSessionStore? Store => _store;

    /// <summary>The store's figures, or null without a store.</summary>
    public SessionStoreFigures? Figures => _store?.Figures;

    /// <summary>The last checkpoint failed: serving goes on, the store is behind.</summary>
    public bool IsDegraded => _store?.Figures.IsDegraded ?? false;

    /// <summary>
    /// Opens the store (creating a SQLite file on first start). Throws a <see cref="ServiceStartException"/> naming the
    /// setting when it cannot be opened or holds another bucket count. Null without a store.
    /// </summary>
    public async Task<PersistentSessionStore?> OpenAsync(CancellationToken cancellationToken)
    {
        if (!Enabled) return null;
        try
        {
            // Nodes starting together on an empty PostgreSQL database create its tables (the snapshot table here, the others
            // at the count check) one after the other; held only for that, not while the node joins its cluster.
            await using var initializing = await StoreInitializationLock.AcquireAsync(Location, cancellationToken).ConfigureAwait(false);
            await Location.PrepareAsync(cancellationToken).ConfigureAwait(false);
            var region = await _registry.GetAsync<BucketRegionActor>(cancellationToken).ConfigureAwait(false);
            // Cluster mode: the buckets are sharded entities, each on the node that owns it; the local region checks the count.
            var buckets = _clustered ? await _registry.GetAsync<BucketShards>(cancellationToken).ConfigureAwait(false) : region;
            _store = await PersistentSessionStore.OpenAsync(buckets, _settings.Buckets, _settings.StoreTimeout, new SessionStoreFigures(), cancellationToken,
                    countRegion: region, local: _clustered ? _localBuckets : null)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is SessionStoreException or IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            throw new ServiceStartException($"{ServiceOptions.SectionName}:Sessions:Store: {Location.Description}: {e.Message}", e);
        }

        _logger.LogInformation("Session store {Store}: {Buckets} buckets, checkpoint every {Interval}", Location.Description, _settings.Buckets,
            _settings.Checkpoint.Interval);
        return _store;
    }

    /// <summary>Starts the checkpoints of the running pipeline (after <see cref="OpenAsync"/>).</summary>
    /// <param name="outputsSent">Completes once every output the pipeline gave out before the call has left the process
    /// (<see cref="PipelineHub.OutputsSentAsync"/>): a bucket is written only after the outputs of the steps it holds.</param>
    public void StartCheckpoints(PipelineStateAccess state, Func<CancellationToken, Task>? outputsSent = null)
    {
        if (_store is null) return;
        _coordinator = _system.ActorOf(
            CheckpointCoordinatorActor.Props(_checkpointSource(state), _store, _settings.Checkpoint.Interval, _settings.Checkpoint.MaxRetryDelay, Rounds,
                outputsSent, _settings.StoreTimeout),
            "checkpoints");
    }

    /// <summary>Takes a checkpoint now (after the one running). Throws when no store is configured or a bucket could not be written.</summary>
    public Task<CheckpointCoordinatorActor.CheckpointCompleted> CheckpointAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_coordinator is null) throw new InvalidOperationException("no session store is configured (LstmStream:Sessions:Store is none)");
        return _coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, timeout, cancellationToken);
    }

    /// <summary>The stored state of <paramref name="key"/>, or null (also without a store).</summary>
    public Task<KeyState?> GetStoredAsync(string key, CancellationToken cancellationToken) =>
        _store is null ? Task.FromResult<KeyState?>(null) : _store.GetStoredAsync(key, cancellationToken);

    /// <summary>The drain's last checkpoint: every key stepped since the previous one. Logs and returns false when it failed.</summary>
    public async Task<bool> FinalCheckpointAsync(CancellationToken cancellationToken)
    {
        if (_coordinator is null) return true;
        try
        {
            var done = await _coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance,
                cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Final checkpoint: {Keys} key(s) in {Buckets} bucket(s), {Bytes} bytes, {Elapsed:F0} ms", done.Keys, done.Buckets, done.Bytes,
                done.Duration.TotalMilliseconds);
            return true;
        }
        catch (Exception e) when (e is SessionStoreException or OperationCanceledException or AskTimeoutException)
        {
            _logger.LogError("Final checkpoint failed: keys stepped since the last checkpoint are not stored ({Reason})", e.Message);
            return false;
        }
    }
}
