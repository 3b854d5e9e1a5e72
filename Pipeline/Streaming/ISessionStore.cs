namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Where a pipeline keeps sessions beyond its own memory (durable sessions): the pipeline loads a key's stored
/// state before the key's first step here, hands over the state of keys it evicts and of keys a checkpoint
/// exports, and names keys whose stored state is to be deleted. The pipeline knows nothing of how or where
/// states are stored; the service's implementation keeps them per bucket (<see cref="KeyBuckets"/>) with
/// Akka.Persistence.
/// </summary>
public interface ISessionStore
{
    /// <summary>The number of buckets keys fall into (<see cref="KeyBuckets.BucketOf"/>); fixed for the store's life.</summary>
    int BucketCount { get; }

    /// <summary>
    /// The stored states of those of <paramref name="keys"/> that have one, in any order (a key without one is
    /// left out). Called for keys that are not live in the pipeline, before their first step there; may complete
    /// on any thread. A fault is retried by the pipeline (the keys' records wait, in order); a state of another
    /// model identity is not applied by the pipeline (the key starts from zero, counted).
    /// </summary>
    Task<IReadOnlyList<KeyState>> LoadAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken);

    /// <summary>
    /// Called by the pipeline on its stream's thread, in stream order, never concurrently with itself: states to
    /// store (keys evicted to the store, keys exported by a checkpoint) and keys whose stored state is to be
    /// deleted (ended, dropped). Later calls supersede earlier ones for the same key. Must not block: queue and return.
    /// </summary>
    void Accept(SessionChanges changes);
}
