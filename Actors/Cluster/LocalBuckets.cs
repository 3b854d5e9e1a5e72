using Akka.Actor;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// The bucket entities living on this node (cluster mode), by bucket: each registers when it starts and leaves when it
/// stops. The session store sends this node's pipeline's loads, changes and writes straight to them instead of through the
/// shard region: a shard being handed off would hold them back (its own hand-off waits for them: a deadlock until the
/// hand-off timeout) or pass them to the next owner, behind the write that hands the bucket over. The pipeline only holds
/// keys of buckets whose entity is here (the entity fed their records), so it always finds it. Thread-safe.
/// </summary>
public sealed class LocalBuckets
{
    private readonly IActorRef?[] _entities;

    public LocalBuckets(int bucketCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketCount);
        _entities = new IActorRef?[bucketCount];
    }

    /// <summary>The entity of <paramref name="bucket"/> on this node, or null.</summary>
    public IActorRef? Find(int bucket) => (uint)bucket < (uint)_entities.Length ? Volatile.Read(ref _entities[bucket]) : null;

    /// <summary>Buckets whose entity is on this node now.</summary>
    public int Count
    {
        get
        {
            var count = 0;
            for (var b = 0; b < _entities.Length; b++)
            {
                if (Volatile.Read(ref _entities[b]) is not null) count++;
            }

            return count;
        }
    }

    public void Register(int bucket, IActorRef entity) => Volatile.Write(ref _entities[bucket], entity);

    /// <summary>Forgets <paramref name="entity"/> (only if it is still the registered one).</summary>
    public void Unregister(int bucket, IActorRef entity) => Interlocked.CompareExchange(ref _entities[bucket], null, entity);
}
