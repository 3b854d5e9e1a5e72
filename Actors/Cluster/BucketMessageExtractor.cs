using System.Globalization;
using Akka.Cluster.Sharding;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// Where a session store message goes in the cluster: the entity is the bucket (<see cref="IBucketMessage.Bucket"/>),
/// its shard is <c>bucket mod shards</c>; a shard, with all its buckets, is what moves between nodes.
/// </summary>
public sealed class BucketMessageExtractor : IMessageExtractor
{
    private readonly int _shards;

    public BucketMessageExtractor(int shards)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        _shards = shards;
    }

    public string? EntityId(object message) => message is IBucketMessage m ? m.Bucket.ToString(CultureInfo.InvariantCulture) : null;

    public object? EntityMessage(object message) => message;

    public string? ShardId(object message) => message is IBucketMessage m ? ShardOf(m.Bucket) : null;

    public string ShardId(string entityId, object? messageHint = null) => ShardOf(int.Parse(entityId, CultureInfo.InvariantCulture));

    /// <summary>The shard of <paramref name="bucket"/>.</summary>
    public string ShardOf(int bucket) => (bucket % _shards).ToString(CultureInfo.InvariantCulture);
}
