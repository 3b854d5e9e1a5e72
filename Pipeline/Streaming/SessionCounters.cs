namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Live figures of a pipeline's session stage, written by the stage and readable from any thread
/// (metrics, admin queries). Values are current as of the last batch, state request or idle check the
/// stage processed. Each property reads one figure; <see cref="Snapshot"/> reads all of them as of one
/// moment.
/// </summary>
public sealed class SessionCounters
{
    // A sequence lock: the single writer makes _version odd while it writes, readers retry until they
    // read the same even version before and after the figures.
    private int _version;
    private int _liveKeys;
    private long _keysCreated;
    private long _keysEnded;
    private long _evictedIdle;
    private long _evictedBound;
    private long _batches;
    private int _slotHighWater;

    /// <inheritdoc cref="SessionCounts.LiveKeys"/>
    public int LiveKeys => Volatile.Read(ref _liveKeys);

    /// <inheritdoc cref="SessionCounts.KeysCreated"/>
    public long KeysCreated => Volatile.Read(ref _keysCreated);

    /// <inheritdoc cref="SessionCounts.KeysEnded"/>
    public long KeysEnded => Volatile.Read(ref _keysEnded);

    /// <inheritdoc cref="SessionCounts.EvictedIdle"/>
    public long EvictedIdle => Volatile.Read(ref _evictedIdle);

    /// <inheritdoc cref="SessionCounts.EvictedBound"/>
    public long EvictedBound => Volatile.Read(ref _evictedBound);

    /// <summary>Keys evicted for any reason (idle or bound).</summary>
    public long Evicted => EvictedIdle + EvictedBound;

    /// <inheritdoc cref="SessionCounts.Batches"/>
    public long Batches => Volatile.Read(ref _batches);

    /// <inheritdoc cref="SessionCounts.SlotHighWater"/>
    public int SlotHighWater => Volatile.Read(ref _slotHighWater);

    /// <summary>All figures as of one moment (never a mix of two updates).</summary>
    public SessionCounts Snapshot()
    {
        var spinner = new SpinWait();
        while (true)
        {
            var before = Volatile.Read(ref _version);
            if ((before & 1) == 0)
            {
                var counts = new SessionCounts(
                    Volatile.Read(ref _liveKeys), Volatile.Read(ref _keysCreated), Volatile.Read(ref _keysEnded),
                    Volatile.Read(ref _evictedIdle), Volatile.Read(ref _evictedBound), Volatile.Read(ref _batches),
                    Volatile.Read(ref _slotHighWater));
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _version) == before) return counts;
            }

            spinner.SpinOnce();
        }
    }

    /// <summary>Called by the session stage only (one writer).</summary>
    internal void Publish(in SessionCounts counts)
    {
        Interlocked.Increment(ref _version);
        Volatile.Write(ref _liveKeys, counts.LiveKeys);
        Volatile.Write(ref _keysCreated, counts.KeysCreated);
        Volatile.Write(ref _keysEnded, counts.KeysEnded);
        Volatile.Write(ref _evictedIdle, counts.EvictedIdle);
        Volatile.Write(ref _evictedBound, counts.EvictedBound);
        Volatile.Write(ref _batches, counts.Batches);
        Volatile.Write(ref _slotHighWater, counts.SlotHighWater);
        Interlocked.Increment(ref _version);
    }
}
