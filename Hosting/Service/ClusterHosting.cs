using System.Globalization;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Remote.Hosting;
using LstmStream.Actors.Cluster;
using LstmStream.Actors.Persistence;
using LstmStream.Hosting.Options;
using Microsoft.Extensions.DependencyInjection;

namespace LstmStream.Hosting.Service;

/// <summary>
/// Cluster mode (<c>LstmStream:Cluster:Enabled</c>) in the one <c>AddAkka</c> call: remoting on the configured address,
/// Akka.Cluster with the seed nodes (none: the node joins itself, a cluster of one) and the split-brain resolver, the
/// session store's buckets as sharded entities (<see cref="BucketShards"/>: state in distributed data, remember-entities
/// off, <see cref="BucketProtocol.HandOffBucket"/> as the hand-off stop message) fed into this node's
/// <see cref="PipelineHub"/>, the node's <see cref="RoutedOutputsActor"/>, and the messages between nodes written by
/// <see cref="ClusterMessageSerializer"/> (frames up to <see cref="RoutedMessageSize.MaxFrameBytes"/>).
/// </summary>
internal static class ClusterHosting
{
    /// <summary>
    /// The shutdown phase between the hand-off of this node's buckets (<c>cluster-sharding-shutdown-region</c>) and its leave
    /// (<c>cluster-leave</c>): the node tells the nodes whose records it stepped that all of it is stored.
    /// </summary>
    public const string BucketsHandedOffPhase = "lstmstream-buckets-handed-off";

    /// <summary>How long the nodes told in <see cref="BucketsHandedOffPhase"/> may take to answer.</summary>
    public static readonly TimeSpan OriginsAnswerTimeout = TimeSpan.FromSeconds(5);

    public static AkkaConfigurationBuilder WithLstmStreamCluster(this AkkaConfigurationBuilder akka, ServiceOptions options, IServiceProvider services)
    {
        var cluster = options.Cluster;
        akka.WithRemoting(remote =>
            {
                remote.HostName = cluster.Hostname;
                remote.Port = cluster.Port;
                remote.MaxFrameSize = RoutedMessageSize.MaxFrameBytes;
            })
            // The messages between nodes in their compact binary form, not Akka's default JSON.
            .WithCustomSerializer(ClusterMessageSerializer.Name, ClusterMessageSerializer.BoundTypes, system => new ClusterMessageSerializer(system))
            .WithClustering(new ClusterOptions
            {
                SeedNodes = cluster.SeedNodes.ToArray(),
                SplitBrainResolver = SplitBrainOf(cluster.SplitBrain),
            })
            .AddHocon(
                $"akka.cluster.sharding.handoff-timeout = {Milliseconds(cluster.HandOffTimeout)}\n" +
                // A crashed node is downed once membership was stable this long; its shards start elsewhere after the
                // down-removal margin, which follows stable-after (Akka's default when the margin is off).
                $"akka.cluster.split-brain-resolver.stable-after = {Milliseconds(cluster.StableAfter)}\n" +
                // Shards move to a node that joins (least-shard-allocation, at most RebalanceLimit per round; 0: never):
                // each bucket's keys are exported from the old owner's pipeline and freed there, written, and restored on
                // the new owner on demand (BucketActor's hand-off).
                $"akka.cluster.sharding.rebalance-interval = {Milliseconds(cluster.RebalanceInterval)}\n" +
                (cluster.RebalanceLimit > 0
                    ? $"akka.cluster.sharding.least-shard-allocation-strategy.rebalance-absolute-limit = {cluster.RebalanceLimit.ToString(CultureInfo.InvariantCulture)}\n" +
                      "akka.cluster.sharding.least-shard-allocation-strategy.rebalance-relative-limit = 1.0\n"
                    : "akka.cluster.sharding.least-shard-allocation-strategy.rebalance-absolute-limit = 0\n" +
                      "akka.cluster.sharding.least-shard-allocation-strategy.rebalance-threshold = 2147483647\n") +
                // A leaving node hands its shards off while its pipeline still runs (the drain completes it after
                // cluster-exiting); the region's phase must outlast the hand-offs.
                $"akka.coordinated-shutdown.phases.cluster-sharding-shutdown-region.timeout = {Milliseconds(cluster.HandOffTimeout + TimeSpan.FromSeconds(5))}\n" +
                // Between the hand-offs and the leave: the nodes whose records were stepped here learn that all of it is stored
                // (ServiceRuntime), before they see this node removed (they would make their sources deliver again).
                $"akka.coordinated-shutdown.phases.{BucketsHandedOffPhase} {{ depends-on = [cluster-sharding-shutdown-region], timeout = {Milliseconds(OriginsAnswerTimeout + TimeSpan.FromSeconds(2))} }}\n" +
                $"akka.coordinated-shutdown.phases.cluster-leave.depends-on = [{BucketsHandedOffPhase}]\n" +
                $"akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout = {Milliseconds(options.Shutdown.Deadline + TimeSpan.FromSeconds(1))}\n" +
                // SplitBrain off: no downing at all (Akka's own default would be the split-brain resolver, keep-majority).
                (SplitBrainOf(cluster.SplitBrain) is null ? "akka.cluster.downing-provider-class = \"\"" : ""),
                HoconAddMode.Prepend)
            .WithShardRegion<BucketShards>(BucketShards.TypeName, (_, _) =>
                {
                    var host = new BucketHost(services.GetRequiredService<PipelineHub>(), services.GetRequiredService<LocalBuckets>(),
                        services.GetRequiredService<HandOffFigures>());
                    return entityId => BucketActor.ShardedProps(int.Parse(entityId, CultureInfo.InvariantCulture), host);
                },
                new BucketMessageExtractor(cluster.Shards),
                new ShardOptions
                {
                    StateStoreMode = StateStoreMode.DData,
                    RememberEntities = false,
                    HandOffStopMessage = BucketProtocol.HandOffBucket.Instance,
                    ShouldPassivateIdleEntities = false,
                })
            .WithActors((system, registry) =>
            {
                var hub = services.GetRequiredService<PipelineHub>();
                registry.Register<RoutedOutputsActor>(system.ActorOf(
                    RoutedOutputsActor.Props(new RoutedOutputsHandlers(hub.DeliverRouted, hub.OwnerWrote, hub.NodeGone, hub.Resend, hub.CheckRoutes)),
                    "routed-outputs"));
                system.ActorOf(DroppedRecordsActor.Props(), "dropped-records");
                registry.Register<NodeStatusActor>(system.ActorOf(NodeStatusActor.Props(() => hub.IsRunning ? hub.Handle.Sessions.LiveKeys : 0),
                    NodeStatusActor.Name));
            });
        if (cluster.SeedNodes.Count == 0)
        {
            // No seed nodes: a cluster of one, formed by joining itself.
            akka.AddStartup((system, _) =>
            {
                var self = Akka.Cluster.Cluster.Get(system);
                self.Join(self.SelfAddress);
            });
        }

        return akka;
    }

    private static string Milliseconds(TimeSpan span) => $"{((long)Math.Ceiling(span.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture)}ms";

    private static SplitBrainResolverOption? SplitBrainOf(string strategy) => strategy.Trim().ToLowerInvariant() switch
    {
        "off" => null,
        "keep-oldest" => new KeepOldestOption(),
        _ => new KeepMajorityOption(),
    };
}
