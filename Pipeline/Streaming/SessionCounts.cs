namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// A consistent snapshot of a pipeline's session figures (<see cref="SessionCounters.Snapshot"/>,
/// <see cref="PipelineStateAccess.CountsAsync"/>). Every key that was ever created is live, ended or
/// evicted: <c>LiveKeys == KeysCreated - KeysEnded - Evicted</c>.
/// </summary>
/// <param name="LiveKeys">Keys that currently hold state.</param>
/// <param name="KeysCreated">Keys whose state was created: a first step (also the first after an end or an
/// eviction) or an import of a key that was not live.</param>
/// <param name="KeysEnded">Keys dropped on request: an <c>end</c> step, an export with removal, or
/// <see cref="PipelineStateAccess.DropAsync(string)"/>.</param>
/// <param name="EvictedIdle">Keys evicted after <see cref="PipelineOptions.IdleTimeout"/> without a step.</param>
/// <param name="EvictedBound">Keys evicted to make room under <see cref="PipelineOptions.MaxLiveKeys"/>.</param>
/// <param name="Batches">Data batches processed.</param>
/// <param name="SlotHighWater">State slots ever handed out: the rows every layer's state arena needs. Never
/// more than <see cref="PipelineOptions.MaxLiveKeys"/>.</param>
public readonly record struct SessionCounts(
    int LiveKeys, long KeysCreated, long KeysEnded, long EvictedIdle, long EvictedBound, long Batches, int SlotHighWater)
{
    /// <summary>Keys evicted for any reason.</summary>
    public long Evicted => EvictedIdle + EvictedBound;

    /// <summary>Records whose <c>seq</c> was not above their key's last applied one: not applied, answered as duplicates.</summary>
    public long Duplicates { get; init; }

    /// <summary>Records whose <c>seq</c> jumped past their key's last applied one plus one (stepped).</summary>
    public long Gaps { get; init; }

    /// <summary>Evicted keys whose state was handed to the session store (included in <see cref="Evicted"/>).</summary>
    public long EvictedToStore { get; init; }

    /// <summary>Keys whose stored state was loaded and applied before their first step.</summary>
    public long Restored { get; init; }

    /// <summary>Stored states not applied because another model produced them (the key started from zero).</summary>
    public long RestoresRefused { get; init; }

    /// <summary>Loads of stored state answered (one load covers the waiting keys of a batch).</summary>
    public long RestoreLoads { get; init; }

    /// <summary>Loads of stored state that failed (each retried).</summary>
    public long RestoreFailures { get; init; }

    /// <summary>Records waiting for their key's stored state right now.</summary>
    public int RestoreWaitingRows { get; init; }
}
