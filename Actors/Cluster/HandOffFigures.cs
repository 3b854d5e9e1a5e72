namespace LstmStream.Actors.Cluster;

/// <summary>
/// This node's figures of buckets moving (cluster mode), for the metrics: buckets whose entity started here (taken over:
/// first use, a rebalance, a node that left or died) and buckets handed off to another node, with the time each hand-off
/// took (from the shard's hand-off stop message to the entity's stop: keys released by the pipeline and written).
/// Thread-safe.
/// </summary>
public sealed class HandOffFigures
{
    private long _takenOver;
    private long _handedOff;
    private long _unfinished;

    /// <summary>Buckets whose entity started on this node.</summary>
    public long BucketsTakenOver => Interlocked.Read(ref _takenOver);

    /// <summary>Buckets this node handed off.</summary>
    public long BucketsHandedOff => Interlocked.Read(ref _handedOff);

    /// <summary>
    /// Hand-offs that ended without their bucket's keys written (the entity stopped before: the shard's hand-off timed out,
    /// the node went down): what this node stepped for other nodes is then not all in the store.
    /// </summary>
    public long HandOffsUnfinished => Interlocked.Read(ref _unfinished);

    /// <summary>Called with each bucket whose entity started here (set by the metrics, which log it).</summary>
    public Action<int>? OnTakenOver { get; set; }

    /// <summary>Called with each completed hand-off (set by the metrics, which record and log it).</summary>
    public Action<HandOff>? OnHandedOff { get; set; }

    public void TakenOver(int bucket)
    {
        Interlocked.Increment(ref _takenOver);
        OnTakenOver?.Invoke(bucket);
    }

    public void HandOffUnfinished(int bucket) => Interlocked.Increment(ref _unfinished);

    public void HandedOff(HandOff handOff)
    {
        Interlocked.Increment(ref _handedOff);
        OnHandedOff?.Invoke(handOff);
    }

    /// <param name="Bucket">The bucket handed off.</param>
    /// <param name="Took">From the hand-off stop message to the entity's stop.</param>
    /// <param name="Freed">Keys freed from this node's pipeline.</param>
    /// <param name="Exported">Of those, keys changed since the last checkpoint, exported and written by the hand-off.</param>
    /// <param name="StoredKeys">Keys in the bucket's snapshot.</param>
    public sealed record HandOff(int Bucket, TimeSpan Took, int Freed, int Exported, int StoredKeys);
}
