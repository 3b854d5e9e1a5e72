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
    private long _duplicates;
    private long _gaps;
    private long _evictedToStore;
    private long _restored;
    private long _restoresRefused;
    private long _restoreLoads;
    private long _restoreFailures;
    private int _restoreWaitingRows;

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

    /// <inheritdoc cref="SessionCounts.Duplicates"/>
    public long Duplicates => Volatile.Read(ref _duplicates);

    /// <inheritdoc cref="SessionCounts.Gaps"/>
    public long Gaps => Volatile.Read(ref _gaps);

    /// <inheritdoc cref="SessionCounts.EvictedToStore"/>
    public long EvictedToStore => Volatile.Read(ref _evictedToStore);

    /// <inheritdoc cref="SessionCounts.Restored"/>
    public long Restored => Volatile.Read(ref _restored);

    /// <inheritdoc cref="SessionCounts.RestoresRefused"/>
    public long RestoresRefused => Volatile.Read(ref _restoresRefused);

    /// <inheritdoc cref="SessionCounts.RestoreLoads"/>
    public long RestoreLoads => Volatile.Read(ref _restoreLoads);

    /// <inheritdoc cref="SessionCounts.RestoreFailures"/>
    public long RestoreFailures => Volatile.Read(ref _restoreFailures);

    /// <inheritdoc cref="SessionCounts.RestoreWaitingRows"/>
    public int RestoreWaitingRows => Volatile.Read(ref _restoreWaitingRows);

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
                    Volatile.Read(ref _slotHighWater))
                {
                    Duplicates = Volatile.Read(ref _duplicates),
                    Gaps = Volatile.Read(ref _gaps),
                    EvictedToStore = Volatile.Read(ref _evictedToStore),
                    Restored = Volatile.Read(ref _restored),
                    RestoresRefused = Volatile.Read(ref _restoresRefused),
                    RestoreLoads = Volatile.Read(ref _restoreLoads),
                    RestoreFailures = Volatile.Read(ref _restoreFailures),
                    RestoreWaitingRows = Volatile.Read(ref _restoreWaitingRows),
                };
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
        Volatile.Write(ref _duplicates, counts.Duplicates);
        Volatile.Write(ref _gaps, counts.Gaps);
        Volatile.Write(ref _evictedToStore, counts.EvictedToStore);
        Volatile.Write(ref _restored, counts.Restored);
        Volatile.Write(ref _restoresRefused, counts.RestoresRefused);
        Volatile.Write(ref _restoreLoads, counts.RestoreLoads);
        Volatile.Write(ref _restoreFailures, counts.RestoreFailures);
        Volatile.Write(ref _restoreWaitingRows, counts.RestoreWaitingRows);
        Interlocked.Increment(ref _version);
    }
}
