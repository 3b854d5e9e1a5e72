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

    /// <summary>Buckets whose entity started on this node.</summary>
    public long BucketsTakenOver => Interlocked.Read(ref _takenOver);

    /// <summary>Buckets this node handed off.</summary>
    public long BucketsHandedOff => Interlocked.Read(ref _handedOff);

    /// <summary>Called with each hand-off's duration once it is complete (set by the metrics).</summary>
    public Action<TimeSpan>? OnHandedOff { get; set; }

    public void TakenOver() => Interlocked.Increment(ref _takenOver);

    public void HandedOff(TimeSpan took)
    {
        Interlocked.Increment(ref _handedOff);
        OnHandedOff?.Invoke(took);
    }
}
