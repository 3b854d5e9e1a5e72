using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Streams.Dsl;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Cli;

/// <summary>
/// The session store of <c>run --state FILE</c>: the same Akka.Persistence.Sql store as <c>serve</c>'s
/// (<see cref="SessionStoreConfig"/>, one snapshot per bucket, the bucket count recorded and checked), so a store file of
/// <c>serve</c> can be used too. Keys are loaded on demand as the run meets them (a stored state of another model is not
/// used: the key starts from zero, counted), and every key the run changed is saved when its input ends, before the
/// pipeline's input completes (<see cref="SaveAtEnd"/>), so day-by-day files score as one continuous stream.
/// </summary>
internal sealed class RunStateFile
{
    /// <summary>The option naming the bucket count (in the refusal of a store made with another one).</summary>
    public const string BucketsOption = "--state-buckets";

    private static readonly TimeSpan StoreTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan SaveTimeout = TimeSpan.FromHours(1);
    private static readonly TimeSpan WaitingPoll = TimeSpan.FromMilliseconds(5);

    private readonly ActorSystem _system;
    private readonly PersistentSessionStore _store;

    private RunStateFile(ActorSystem system, SessionStoreLocation location, PersistentSessionStore store)
    {
        _system = system;
        Location = location;
        _store = store;
    }

    public SessionStoreLocation Location { get; }

    /// <summary>The pipeline's store.</summary>
    public ISessionStore Store => _store;

    public SessionStoreFigures Figures => _store.Figures;

    /// <summary>Reads the option's value: a SQLite file (relative to the working directory), or a PostgreSQL connection string as <c>serve</c>'s <c>Store</c>.</summary>
    public static SessionStoreLocation Parse(string value)
    {
        SessionStoreLocation location;
        try
        {
            location = SessionStoreLocation.Parse(value, Environment.CurrentDirectory);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--state: {e.Message}", e);
        }

        if (location.Kind == SessionStoreKind.None) throw new ArgumentException("--state: name a SQLite file (e.g. state.db), not 'none'");
        return location;
    }

    /// <summary>The actor system's configuration for <paramref name="location"/>.</summary>
    public static Config ConfigFor(SessionStoreLocation location) => SessionStoreConfig.For(location);

    /// <summary>
    /// Opens the store on <paramref name="system"/> (configured with <see cref="ConfigFor"/>): creates the SQLite file on
    /// first use, records the bucket count or checks it. Throws an <see cref="ArgumentException"/> naming the file and both
    /// counts when the store was made with another count, or what went wrong when it cannot be opened.
    /// </summary>
    public static async Task<RunStateFile> OpenAsync(ActorSystem system, SessionStoreLocation location, int buckets, CancellationToken cancellationToken)
    {
        try
        {
            await using var initializing = await StoreInitializationLock.AcquireAsync(location, cancellationToken).ConfigureAwait(false);
            await location.PrepareAsync(cancellationToken).ConfigureAwait(false);
            var region = system.ActorOf(BucketRegionActor.Props(TimeSpan.Zero), "sessions-store");
            var store = await PersistentSessionStore.OpenAsync(region, buckets, StoreTimeout, new SessionStoreFigures(), cancellationToken, bucketSetting: BucketsOption)
                .ConfigureAwait(false);
            return new RunStateFile(system, location, store);
        }
        catch (Exception e) when (e is SessionStoreException or Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException)
        {
            throw new ArgumentException($"--state {location.Description}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Placed before the pipeline: when the run's input has ended, saves every key the run stepped, through the pipeline
    /// whose state <paramref name="state"/> gives once materialized (a short input can end before the whole graph's
    /// materialized value is known), before the pipeline's input completes. The stream fails with a
    /// <see cref="SessionStoreException"/> when a bucket could not be written.
    /// </summary>
    public Flow<StepBatch, StepBatch, NotUsed> SaveAtEnd(Task<PipelineStateAccess> state) =>
        Flow.FromGraph(new SaveAtEndStage(() => SaveAsync(state)));

    /// <summary>The line written to stderr at the end: what was restored, refused and saved.</summary>
    public string Summary(SessionCounts sessions) =>
        $"lstmstream run: --state {Location.Description}: {Figures.KeysLoaded} key(s) restored, {sessions.RestoresRefused} stored state(s) of another model " +
        $"not used (those keys started from zero), {Saved.Keys} key(s) saved in {Saved.Buckets} bucket write(s), {Saved.Bytes} bytes";

    private CheckpointCoordinatorActor.CheckpointCompleted Saved { get; set; } = new(0, 0, 0, TimeSpan.Zero);

    private async Task SaveAsync(Task<PipelineStateAccess> materialized)
    {
        var state = await materialized.ConfigureAwait(false);
        // Records of keys whose stored state was still loading wait in the pipeline, not stepped yet, and a checkpoint
        // passes them: wait until they have gone through (after the input ended no record joins them).
        while ((await state.CountsAsync().ConfigureAwait(false)).RestoreWaitingRows > 0) await Task.Delay(WaitingPoll).ConfigureAwait(false);
        // The service's checkpoint, taken once: every changed key, bucket by bucket, plus the buckets told evictions and ends.
        var coordinator = _system.ActorOf(CheckpointCoordinatorActor.Props(new PipelineCheckpointSource(state), _store, TimeSpan.Zero, TimeSpan.FromSeconds(1)),
            "final-checkpoint");
        try
        {
            Saved = await coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, SaveTimeout)
                .ConfigureAwait(false);
        }
        finally
        {
            _system.Stop(coordinator);
        }
    }
}
