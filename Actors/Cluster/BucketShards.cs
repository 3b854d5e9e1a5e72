namespace LstmStream.Actors.Cluster;

/// <summary>
/// The key under which the shard region of the session store's buckets is registered with Akka.Hosting (cluster mode):
/// <c>IRequiredActor&lt;BucketShards&gt;</c>. Its entities are <see cref="Persistence.BucketActor"/>s, one per bucket.
/// </summary>
public sealed class BucketShards
{
    /// <summary>The sharded entity type's name.</summary>
    public const string TypeName = "lstmstream-bucket";

    private BucketShards()
    {
    }
}
