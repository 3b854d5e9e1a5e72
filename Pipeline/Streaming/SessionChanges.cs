namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// What a pipeline hands to its <see cref="ISessionStore"/> at one point of its stream: <see cref="Save"/>, states
/// to store (each with its <see cref="KeyState.LastSeq"/>), and <see cref="Delete"/>, keys whose stored state is to
/// be deleted. <see cref="CheckpointBucket"/> names the bucket when these are a checkpoint's export of that bucket's
/// keys stepped since its previous checkpoint; null for evictions and ends between checkpoints.
/// </summary>
public sealed record SessionChanges(IReadOnlyList<KeyState> Save, IReadOnlyList<string> Delete, int? CheckpointBucket);
