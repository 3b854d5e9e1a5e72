namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// What a pipeline hands to its <see cref="ISessionStore"/> at one point of its stream: <see cref="Save"/>, states
/// to store (each with its <see cref="KeyState.LastSeq"/>), and <see cref="Delete"/>, keys whose stored state is to
/// be deleted. <see cref="CheckpointBucket"/> names the bucket when these are a checkpoint's export of that bucket;
/// null for evictions and ends between checkpoints.
/// </summary>
/// <remarks>
/// The pipeline's checkpoint export holds <b>every</b> key of the bucket live in the pipeline
/// (<see cref="LiveBucket"/>), of which <see cref="Changed"/> changed since the bucket's previous checkpoint: those keys
/// stay live, and the pipeline exports them again at each later checkpoint of the bucket for as long as they stay
/// (an eviction or end hands them over as an ordinary change first), so a store need not keep a copy of them in memory.
/// </remarks>
public sealed record SessionChanges(IReadOnlyList<KeyState> Save, IReadOnlyList<string> Delete, int? CheckpointBucket)
{
    /// <summary>True when <see cref="Save"/> is every key of <see cref="CheckpointBucket"/> live in the pipeline at this point.</summary>
    public bool LiveBucket { get; init; }

    /// <summary>With <see cref="LiveBucket"/>: how many of <see cref="Save"/> changed since the bucket's previous checkpoint (all of them otherwise).</summary>
    public int Changed { get; init; } = -1;

    /// <summary>How many of <see cref="Save"/> changed (the count of a live export, all of them otherwise).</summary>
    public int ChangedCount => Changed >= 0 ? Changed : Save.Count;
}
