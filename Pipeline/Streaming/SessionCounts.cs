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
}
