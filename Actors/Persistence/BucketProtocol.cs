using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// The messages of the session store: sent to the <see cref="BucketRegionActor"/>, which hands each to the
/// <see cref="BucketActor"/> of its bucket (started on demand). A failed request is answered with
/// <see cref="Akka.Actor.Status.Failure"/>.
/// </summary>
public static class BucketProtocol
{
    /// <summary>A message for one bucket's actor.</summary>
    public interface IBucketMessage
    {
        int Bucket { get; }
    }

    /// <summary>The stored states of those of <paramref name="Keys"/> that have one. Answer: <see cref="LoadedKeys"/>.</summary>
    public sealed record LoadKeys(int Bucket, IReadOnlyList<string> Keys) : IBucketMessage;

    public sealed record LoadedKeys(int Bucket, IReadOnlyList<KeyState> States);

    /// <summary>
    /// States to store and keys to delete; kept by the bucket's actor until its next <see cref="SaveBucket"/>. Not
    /// answered. Later changes of a key supersede earlier ones.
    /// </summary>
    /// <remarks>
    /// <see cref="Live"/>: <see cref="Save"/> is the pipeline's checkpoint export of the bucket, every key of it live in
    /// the pipeline (<see cref="Changed"/> of them changed since the previous one). Once a snapshot holding them is
    /// written, the bucket actor forgets their states (it keeps their names only): the pipeline exports them again
    /// before each later save, or hands them over when it evicts or ends them.
    /// </remarks>
    public sealed record ApplyChanges(int Bucket, IReadOnlyList<KeyState> Save, IReadOnlyList<string> Delete) : IBucketMessage
    {
        public bool Live { get; init; }

        /// <summary>With <see cref="Live"/>: how many of <see cref="Save"/> changed since the bucket's previous export.</summary>
        public int Changed { get; init; }
    }

    /// <summary>
    /// Write the bucket's snapshot if anything changed since the last one (older snapshots are deleted once it is
    /// written). Answer: <see cref="BucketSaved"/> once written, <see cref="Akka.Actor.Status.Failure"/> when the store
    /// refused it (the changes stay with the bucket for the next attempt).
    /// </summary>
    public sealed record SaveBucket(int Bucket) : IBucketMessage;

    /// <param name="Written">False when nothing had changed since the last snapshot (nothing was written).</param>
    /// <param name="Keys">Keys in the written snapshot.</param>
    /// <param name="Bytes">Bytes of the written snapshot.</param>
    public sealed record BucketSaved(int Bucket, bool Written, int Keys, long Bytes);

    /// <summary>The stored state of <paramref name="Key"/> (unsaved changes included). Answer: <see cref="StoredKey"/>.</summary>
    public sealed record GetStoredKey(int Bucket, string Key) : IBucketMessage;

    /// <param name="State">Null when the bucket holds no state of the key.</param>
    public sealed record StoredKey(string Key, KeyState? State);

    /// <summary>What the bucket's actor keeps in memory. Answer: <see cref="BucketMemory"/>.</summary>
    public sealed record GetBucketMemory(int Bucket) : IBucketMessage;

    /// <param name="HeldStates">Keys whose states the actor holds (not live in the pipeline, or not yet in a written snapshot).</param>
    /// <param name="LiveKeys">Keys live in the pipeline whose states it does not hold (they are in its latest snapshot).</param>
    public sealed record BucketMemory(int Bucket, int HeldStates, int LiveKeys);

    /// <summary>
    /// Check the bucket count the store was created with, recording <paramref name="BucketCount"/> on first use.
    /// Answer: <see cref="BucketCountConfirmed"/>, or a <see cref="Akka.Actor.Status.Failure"/> with a
    /// <see cref="SessionStoreException"/> naming both counts and <paramref name="Setting"/> when they differ.
    /// </summary>
    /// <param name="Setting">Where the asked count comes from, named in the refusal (a setting, a command-line option).</param>
    public sealed record CheckBucketCount(int BucketCount, string Setting = CheckBucketCount.ServeSetting)
    {
        /// <summary>The setting of <c>serve</c> that holds the bucket count.</summary>
        public const string ServeSetting = "LstmStream:Sessions:Buckets";
    }

    /// <param name="Recorded">True when this start recorded the count (a new store).</param>
    public sealed record BucketCountConfirmed(int BucketCount, bool Recorded);

    /// <summary>
    /// Cluster mode: the bucket's shard moves to another node; the bucket writes what is unsaved and stops (the shard
    /// region's hand-off stop message).
    /// </summary>
    public sealed record HandOffBucket
    {
        public static HandOffBucket Instance { get; } = new();
    }

    // Between the region and its bucket actors.
    internal sealed record BucketReady(int Bucket);

    internal sealed record BucketRecoveryFailed(int Bucket, Exception Reason);

    internal sealed record BucketIdle(int Bucket);

    internal sealed record StopIfIdle(int Bucket) : IBucketMessage;

    internal sealed record BucketBusy(int Bucket);
}
