namespace LstmStream.Hosting.Options;

/// <summary>
/// <c>LstmStream:Cluster</c>: several <c>serve</c> nodes sharing the keys (Akka.Cluster.Sharding; the session store's
/// buckets are the sharded entities). Off by default: a single node behaves as if this section did not exist.
/// </summary>
public sealed class ClusterSettings
{
    /// <summary>The actor system's name; every node's address starts with <c>akka.tcp://lstmstream@</c>.</summary>
    public const string SystemName = "lstmstream";

    /// <summary>Join a cluster (or, without <see cref="SeedNodes"/>, form one of its own).</summary>
    public bool Enabled { get; set; }

    /// <summary>The address other nodes reach this one at (also the address it binds).</summary>
    public string Hostname { get; set; } = "127.0.0.1";

    /// <summary>The cluster port; 0 takes a free port (only sensible for a node alone: seed nodes must know it).</summary>
    public int Port { get; set; } = 4053;

    /// <summary>
    /// Addresses of the nodes to join (<c>akka.tcp://lstmstream@host:port</c>), the same list on every node; the first one
    /// forms the cluster when none is up. Empty: this node forms a cluster of its own (one node).
    /// </summary>
    public List<string> SeedNodes { get; set; } = [];

    /// <summary>
    /// Shards the buckets fall into (bucket <c>b</c> is in shard <c>b mod Shards</c>); a shard is what moves between nodes.
    /// About 10 × the most nodes planned for: fewer leave the load uneven, many more cost coordination. At most
    /// <c>Sessions:Buckets</c>.
    /// </summary>
    public int Shards { get; set; } = 32;

    /// <summary>The split-brain resolver's strategy: <c>keep-majority</c> (default), <c>keep-oldest</c> or <c>off</c>.</summary>
    public string SplitBrain { get; set; } = "keep-majority";

    /// <summary>The values <see cref="SplitBrain"/> takes.</summary>
    public static IReadOnlyList<string> SplitBrainStrategies { get; } = ["keep-majority", "keep-oldest", "off"];

    /// <summary>
    /// Most shards moved to a less loaded node (one that joined) per rebalance round; 0: shards never move between running
    /// nodes (only when their node leaves or dies). Each moved bucket's keys are written by the old owner and restored by
    /// the new one: a larger limit balances sooner and costs a larger pause of the moved keys.
    /// </summary>
    public int RebalanceLimit { get; set; } = 10;

    /// <summary>How often the shard coordinator looks for an uneven load to rebalance.</summary>
    public TimeSpan RebalanceInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the cluster's membership must be stable (no node newly unreachable or back) before the split-brain resolver
    /// downs the unreachable side (Akka's <c>stable-after</c>; also the down-removal margin, after which a downed node's
    /// shards start on the survivors). A crashed node's buckets are unavailable for about the failure detector's few seconds
    /// plus twice this: shorter takes over sooner, but a node paused longer (GC, a slow machine) is taken for dead and
    /// downed. Not used with <see cref="SplitBrain"/> <c>off</c>.
    /// </summary>
    public TimeSpan StableAfter { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a shard's hand-off may take (the bucket's keys exported from the pipeline and written) before it is cut off.</summary>
    public TimeSpan HandOffTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
