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
        if (TimeProvider is null)
            throw new ArgumentException($"{nameof(TimeProvider)} must be set (the default is the system clock)");
    }
}
