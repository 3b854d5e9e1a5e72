namespace LstmStream.Pipeline.Streaming;

/// <summary>How <see cref="LstmPipeline"/> batches, runs and keeps keys' state.</summary>
public sealed record PipelineOptions
{
    /// <summary>Most rows (distinct keys) per micro-batch, i.e. per layer matrix multiply.</summary>
    public int MaxBatchRows { get; init; } = 256;

    /// <summary>
    /// Zero (the default): demand-driven batching, a micro-batch is whatever has arrived when the first layer can
    /// take the next one, so a lone record is stepped at once and a busy pipeline fills batches up to
    /// <see cref="MaxBatchRows"/>. Positive: a partial batch also waits for more rows, at most this long after its
    /// first row, even when the layers are idle (fewer, fuller batches at the price of latency).
    /// </summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// An asynchronous boundary between layers, so layers run on different threads (pipelining). Off: the
    /// whole pipeline is fused into one actor.
    /// </summary>
    public bool AsyncLayers { get; init; }

    /// <summary>Batches buffered at each asynchronous boundary (a power of two).</summary>
    public int AsyncBufferBatches { get; init; } = 2;

    /// <summary>
    /// A live key with no step for this long (or longer) is evicted: its state is freed, its next step
    /// starts from zero state like a new key's, and <see cref="SessionCounters.EvictedIdle"/> counts it.
    /// Checked when batches arrive and, while no data flows, by a timer of the session stage (an idle key is
    /// freed at most about an eighth of the timeout, at most one second, after it expired). Null: keys never
    /// expire.
    /// </summary>
    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>
    /// Most keys holding state at once. When a new key arrives while this many are live, the least recently
    /// used key that is not in the same batch is evicted (<see cref="SessionCounters.EvictedBound"/>); state
    /// memory stays bounded by this many rows per layer. At least <see cref="MaxBatchRows"/> (a batch's keys
    /// are all live together). Null: unbounded.
    /// </summary>
    public int? MaxLiveKeys { get; init; }

    /// <summary>The clock for idle eviction (its timestamps and timers). Tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Told of every eviction (the key and why), for logging. Called on the session stage's thread, between
    /// batches: it must be cheap and must not block or throw (an exception fails the pipeline). Null: no one
    /// is told; the counters count evictions either way.
    /// </summary>
    public Action<string, EvictionReason>? OnKeyEvicted { get; init; }

    /// <summary>
    /// Where keys' state lives beyond the pipeline's memory (durable sessions). Set: a key that is not live is
    /// loaded from the store before its first step (its records wait, in order, while other keys flow), evicted
    /// keys are handed to it (<see cref="EvictTo"/>), ended and dropped keys are deleted from it, and
    /// <see cref="PipelineStateAccess.CheckpointAsync"/> exports a bucket's live keys to it (the bucket is checkpointed
    /// when a key of it was stepped since its last checkpoint). Null (the default): keys live in memory only, as without this option, at no cost.
    /// </summary>
    public ISessionStore? SessionStore { get; init; }

    /// <summary>
    /// What eviction does with a key's state when <see cref="SessionStore"/> is set; null: <see cref="SessionEviction.Store"/>
    /// with a store, <see cref="SessionEviction.Discard"/> without one.
    /// </summary>
    public SessionEviction? EvictTo { get; init; }

    /// <summary>
    /// Most records that wait for their keys' stored state to load (with <see cref="SessionStore"/>); when this
    /// many wait, the pipeline stops taking input until loads complete. At least <see cref="MaxBatchRows"/> when a
    /// store is set (the rows are allocated on the first wait; without a store nothing is).
    /// </summary>
    public int RestoreBufferRows { get; init; } = 8192;

    /// <summary>
    /// Told of each stored state that is not used because another model produced it (the key, the stored state's
    /// model identity); the key starts from zero state and <see cref="SessionCounters.RestoresRefused"/> counts it.
    /// Called on the session stage's thread: cheap, must not block or throw.
    /// </summary>
    public Action<string, string>? OnStoredStateRefused { get; init; }

    /// <summary>
    /// Told of each completed load of keys' stored state (keys asked, states found, time from the request to its
    /// answer), for a latency histogram. Called on the session stage's thread: cheap, must not block or throw.
    /// </summary>
    public Action<int, int, TimeSpan>? OnRestoreLoaded { get; init; }

    /// <summary>
    /// Told of each failed load (keys asked, the error, the wait before the retry); the keys' records keep waiting
    /// and <see cref="SessionCounters.RestoreFailures"/> counts it. Called on the session stage's thread.
    /// </summary>
    public Action<int, Exception, TimeSpan>? OnRestoreFailed { get; init; }

    /// <summary>What eviction does with state under these options (<see cref="EvictTo"/> or its default).</summary>
    public SessionEviction Eviction => EvictTo ?? (SessionStore is null ? SessionEviction.Discard : SessionEviction.Store);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting when an option is out of range.</summary>
    public void Validate()
    {
        if (MaxBatchRows <= 0)
            throw new ArgumentException($"{nameof(MaxBatchRows)} must be positive, got {MaxBatchRows}");
        if (MaxBatchDelay < TimeSpan.Zero)
            throw new ArgumentException($"{nameof(MaxBatchDelay)} must not be negative (zero: demand-driven), got {MaxBatchDelay}");
        if (AsyncBufferBatches <= 0 || (AsyncBufferBatches & (AsyncBufferBatches - 1)) != 0)
            throw new ArgumentException($"{nameof(AsyncBufferBatches)} must be a positive power of two, got {AsyncBufferBatches}");
        if (IdleTimeout is { } idle && idle <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(IdleTimeout)} must be positive (or unset: keys never expire), got {idle}");
        if (MaxLiveKeys is { } max && max < MaxBatchRows)
            throw new ArgumentException(
                $"{nameof(MaxLiveKeys)} ({max}) must be at least {nameof(MaxBatchRows)} ({MaxBatchRows}): every key of a batch holds state at once");
        if (EvictTo == SessionEviction.Store && SessionStore is null)
            throw new ArgumentException($"{nameof(EvictTo)} = {nameof(SessionEviction.Store)} needs a {nameof(SessionStore)}");
        if (SessionStore is { BucketCount: <= 0 } store)
            throw new ArgumentException($"{nameof(SessionStore)}.{nameof(ISessionStore.BucketCount)} must be positive, got {store.BucketCount}");
        if (SessionStore is not null && RestoreBufferRows < MaxBatchRows)
            throw new ArgumentException($"{nameof(RestoreBufferRows)} ({RestoreBufferRows}) must be at least {nameof(MaxBatchRows)} ({MaxBatchRows})");
        if (TimeProvider is null)
            throw new ArgumentException($"{nameof(TimeProvider)} must be set (the default is the system clock)");
    }
}
