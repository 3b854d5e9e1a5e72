using LstmStream.Actors.Persistence;

namespace LstmStream.Hosting.Options;

/// <summary>
/// <c>LstmStream:Sessions</c>: the lifecycle of keys' state. Carried to the pipeline by
/// <c>Service.PipelineSettings.Create</c>, the one place that turns settings into <c>PipelineOptions</c>.
/// </summary>
public sealed class SessionSettings
{
    /// <summary>A key that sent no step for this long is evicted (its next step starts from zero state). Zero: never.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Most keys holding state at once; beyond it the least recently used idle key is evicted. Zero: no bound.</summary>
    public int MaxLiveKeys { get; set; } = 1_000_000;

    /// <summary>
    /// Evictions are logged as one line per this interval (a count per reason and a few sample keys), never a line
    /// per key; evicted keys are counted in the metrics at once.
    /// </summary>
    public TimeSpan EvictionLogInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Where sessions are kept beyond memory (durable sessions): <c>none</c> (in memory only), a SQLite file path
    /// (relative to the working directory, created on first start, e.g. <c>data/lstmstream.db</c>) or a PostgreSQL
    /// connection string (<c>Host=…;Database=…;Username=…;Password=…</c>).
    /// </summary>
    public string Store { get; set; } = "none";

    /// <summary>The number of buckets keys fall into (the unit of persistence and of sharding); fixed for a store's life.</summary>
    public int Buckets { get; set; } = 256;

    public CheckpointSettings Checkpoint { get; set; } = new();

    /// <summary>
    /// What idle and live-key-bound eviction do with a key's state: <c>store</c> (saved, restored on the key's next
    /// record) or <c>discard</c>. Unset: <c>store</c> when a store is configured, else <c>discard</c>.
    /// </summary>
    public string? EvictTo { get; set; }

    /// <summary>How long one request to the store (a load, a bucket's write) may take before it counts as failed.</summary>
    public TimeSpan StoreTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A bucket not used for this long with nothing unsaved leaves memory (it is read again when needed).</summary>
    public TimeSpan BucketIdleTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Where <see cref="Store"/> points; throws an <see cref="ArgumentException"/> saying what is wrong with it.</summary>
    public SessionStoreLocation StoreLocation() => SessionStoreLocation.Parse(Store, Directory.GetCurrentDirectory());

    /// <summary>True when evicted keys' state goes to the store (see <see cref="EvictTo"/>).</summary>
    public bool EvictsToStore(SessionStoreLocation location) =>
        EvictTo is null ? location.Kind != SessionStoreKind.None : EvictTo.Trim().Equals("store", StringComparison.OrdinalIgnoreCase);
}
