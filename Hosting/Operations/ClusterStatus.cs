using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using LstmStream.Actors.Cluster;
using Microsoft.AspNetCore.Http;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// <c>GET /admin/cluster</c>: the cluster as this node sees it: every member (address, status, roles, whether this node
/// is it, whether it is unreachable), each member's shards and the buckets in them (bucket <c>b</c> is in shard
/// <c>b mod shards</c>; a shard that did not answer in time, busy starting or handing off, counts as its region's) and its
/// live keys (asked of its <see cref="NodeStatusActor"/>; null when it is unreachable or did not answer in time), and the shards no node holds
/// (<c>unallocatedShards</c>: after their node left, until their buckets are used again), so that every shard is named once.
/// 404 when cluster mode is off.
/// </summary>
internal static class ClusterStatus
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public static async Task<IResult> GetAsync(ActorSystem system, ActorRegistry registry, int shards, int buckets, CancellationToken aborted)
    {
        if (!registry.TryGet<BucketShards>(out var region))
            return Results.Json(new { error = "cluster mode is off (LstmStream:Cluster:Enabled)" }, statusCode: StatusCodes.Status404NotFound);
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var stats = await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(AskTimeout), AskTimeout + TimeSpan.FromSeconds(1), aborted)
            .ConfigureAwait(false);
        var members = new List<object>();
        var allocated = new HashSet<int>();
        foreach (var member in state.Members.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal))
        {
            // A shard that did not answer the region's query in time (busy: starting, handing off) is still the region's.
            var nodeShards = stats.Regions.TryGetValue(member.Address, out var regionStats)
                ? regionStats.Stats.Keys.Union(regionStats.Failed).Select(int.Parse).Distinct().Order().ToArray()
                : [];
            allocated.UnionWith(nodeShards);
            members.Add(new
            {
                address = member.Address.ToString(),
                status = member.Status.ToString(),
                self = member.Address.Equals(cluster.SelfAddress),
                unreachable = state.Unreachable.Contains(member),
                roles = member.Roles.Order(StringComparer.Ordinal).ToArray(),
                shards = nodeShards,
                buckets = nodeShards.SelectMany(s => Enumerable.Range(0, buckets).Where(b => b % shards == s)).Order().ToArray(),
                // An unreachable node (crashed, say) would only make the answer wait for the ask's timeout.
                liveKeys = state.Unreachable.Contains(member) ? null : await LiveKeysAsync(system, member.Address, aborted).ConfigureAwait(false),
            });
        }

        return Results.Json(new
        {
            self = cluster.SelfAddress.ToString(),
            leader = state.Leader?.ToString(),
            shards,
            buckets,
            members,
            // Shards no node holds now: placed on the node with the fewest when their buckets are next used.
            unallocatedShards = Enumerable.Range(0, shards).Where(s => !allocated.Contains(s)).ToArray(),
        });
    }

    private static async Task<long?> LiveKeysAsync(ActorSystem system, Address node, CancellationToken aborted)
    {
        try
        {
            var status = await system.ActorSelection(new RootActorPath(node) / "user" / NodeStatusActor.Name)
                .Ask<NodeStatusActor.NodeStatus>(NodeStatusActor.GetNodeStatus.Instance, AskTimeout, aborted).ConfigureAwait(false);
            return status.LiveKeys;
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }
}
