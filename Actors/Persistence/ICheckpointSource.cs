namespace LstmStream.Actors.Persistence;

/// <summary>
/// What a checkpoint reads from the running pipeline (implemented over <c>PipelineStateAccess</c>): which buckets hold
/// keys stepped since their last checkpoint, and the export of one bucket's live keys, taken through the stream in
/// order with the data, which the pipeline hands to its <c>ISessionStore.Accept</c> before the task completes.
/// </summary>
public interface ICheckpointSource
{
    /// <summary>The buckets that hold keys stepped, imported or reset since the bucket's last checkpoint.</summary>
    Task<IReadOnlyList<int>> DirtyBucketsAsync();

    /// <summary>
    /// Exports the keys of <paramref name="bucket"/> to the session store (the pipeline: every live key of it, as a
    /// <c>SessionChanges.LiveBucket</c> export, clearing their changed mark); completes once the store has been handed
    /// them. Returns the number of keys exported that changed since the bucket's previous checkpoint.
    /// </summary>
    Task<int> CheckpointAsync(int bucket);
}
