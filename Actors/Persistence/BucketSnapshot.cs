using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// What one bucket's snapshot holds: every stored key of the bucket (<see cref="KeyBuckets.BucketOf"/>), each with
/// its layers' <c>c</c> and <c>h</c>, its last applied <c>seq</c> and its model identity. Written whole at each
/// checkpoint of the bucket by <see cref="SessionStateSerializer"/> (floats stored raw, bit-exact).
/// </summary>
public sealed record BucketSnapshot(IReadOnlyList<KeyState> States);

/// <summary>
/// The snapshot of the store's own record: how many buckets its keys fall into. Written once, when the store is first
/// used; a start with another count is refused (every key would be looked for in the wrong bucket).
/// </summary>
public sealed record BucketCountRecord(int BucketCount);
