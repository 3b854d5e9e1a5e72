namespace LstmStream.Actors.Cluster;

/// <summary>
/// This node's pipeline as its bucket entities see it (cluster mode): they feed it the records routed to their bucket and,
/// when their shard moves to another node, have it give their bucket's keys back to the store.
/// </summary>
public interface IBucketPipeline
{
    /// <summary>
    /// The records enter the pipeline (in the order of the calls, so per-key order holds); their outputs go back to
    /// <see cref="RoutedRecords.ReplyTo"/>. Throws an <see cref="InvalidOperationException"/> when the pipeline takes no
    /// more input (it stopped).
    /// </summary>
    void Feed(RoutedRecords records);

    /// <summary>
    /// The entity of <paramref name="bucket"/> started on this node: the node's own records of the bucket may enter the
    /// pipeline directly, without the shard region, once none routed through it is in flight (the local owner shortcut).
    /// </summary>
    void BucketArrived(int bucket);

    /// <summary>The entity of <paramref name="bucket"/> stopped: the node's own records of the bucket take the shard region again.</summary>
    void BucketLeft(int bucket);

    /// <summary>
    /// The hand-off of <paramref name="bucket"/>: the node's own records of the bucket take the shard region from now on
    /// (which holds them for the next owner); then waits until every record of the bucket fed so far has come out of the
    /// pipeline, then has the pipeline export every live key of the bucket to the session store (as a checkpoint does) and
    /// free them, ordered with the data (<c>PipelineStateAccess.HandOffAsync</c>). Completes once the
    /// store has been told the states (the bucket entity then writes them), with the numbers of keys exported and freed;
    /// with the pipeline stopped, with none.
    /// </summary>
    Task<(int Exported, int Freed)> ReleaseAsync(int bucket);
}
