using System.Text.Json;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Service;

/// <summary>
/// Buckets moving between real <c>serve</c> processes on 127.0.0.1 (private PostgreSQL store) while records keep flowing
/// through every node: a node that leaves gracefully hands its buckets off (keys exported and freed from its pipeline,
/// written, restored on their next owner) and a node that joins takes shards over; either way every key's outputs are
/// bitwise those of one node without cluster mode, each seq answered once, in order, and every shard is named once in
/// <c>GET /admin/cluster</c>.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class ClusterHandOffTests : IClassFixture<PostgreSqlServer>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(40);
    private const int Shards = 12;
    private readonly PostgreSqlServer _postgres;
    private readonly ClusterNodeSet _nodes = new(nameof(ClusterHandOffTests));

    public ClusterHandOffTests(PostgreSqlServer postgres) => _postgres = postgres;

    [Fact]
    public async Task A_node_that_leaves_under_load_hands_its_buckets_over_losing_nothing_and_applying_nothing_twice()
    {
        const int keys = 24;
        var (nodes, _) = await StartClusterAsync(started: 3);
        var feeders = Enumerable.Range(0, 3)
            .Select(n => ClusterLoadFeeder.Start(nodes[n], Enumerable.Range(0, keys).Where(k => k % 3 == n).ToDictionary(k => k, _ => 1), null, Pause, Timeout))
            .ToList();
        await WaitForRoundsAsync(feeders, 15);
        var leaving = Self(await nodes[2].ClusterAsync());
        Assert.NotEmpty(leaving.GetProperty("shards").EnumerateArray());

        // SIGTERM while all three send: the leaving node's connection is cut once what it took is answered, its keys go on
        // through the first node, while its buckets are handed off under the records the other two keep routing to them.
        var leave = nodes[2].StopAsync(Timeout);
        var cut = await feeders[2].Completion.WaitAsync(Timeout);
        var moved = ClusterLoadFeeder.Start(nodes[0], ClusterLoad.NextAfter(feeders[2].Keys, cut), null, Pause, Timeout);
        Assert.Equal(0, await leave);
        await nodes[0].WaitForMembersUpAsync(2, Timeout);
        var runningOn = new List<ClusterLoadFeeder> { feeders[0], feeders[1], moved };
        await WaitForRoundsAsync(runningOn, runningOn.Select(f => f.Rounds).Max() + 15);
        foreach (var feeder in runningOn) feeder.Stop();

        var outputs = new List<string>(cut);
        foreach (var feeder in runningOn) outputs.AddRange(await feeder.Completion.WaitAsync(Timeout));
        await AssertSingleNodeOutputsAsync(keys, outputs, runningOn);
        Assert.Matches("Bucket [0-9]+ handed off", nodes[2].Log);
        Assert.DoesNotContain("not stepped", nodes[2].Log, StringComparison.Ordinal);
        var takenOver = string.Join('\n', await Task.WhenAll(nodes[..2].Select(n => n.MetricsAsync())));
        Assert.Matches(MetricAbove("lstmstream_cluster_buckets_taken_over_total"), takenOver);
        foreach (var node in nodes[..2]) await AssertEveryShardNamedOnceAsync(node, members: 2);
        foreach (var node in nodes[..2]) Assert.Equal(0, await node.StopAsync(Timeout));
    }

    [Fact]
    public async Task A_node_that_joins_under_load_takes_shards_over_losing_nothing_and_applying_nothing_twice()
    {
        const int keys = 24;
        var (nodes, seeds) = await StartClusterAsync(started: 2);
        var feeders = Enumerable.Range(0, 2)
            .Select(n => ClusterLoadFeeder.Start(nodes[n], Enumerable.Range(0, keys).Where(k => k % 2 == n).ToDictionary(k => k, _ => 1), null, Pause, Timeout))
            .ToList();
        await WaitForRoundsAsync(feeders, 15);

        // The third node joins while both send; rebalancing moves shards to it (each moved bucket's keys exported and freed
        // on the old owner, restored on the new one) and records keep coming through all three, also new keys through it.
        var joining = StartNode(seeds.Port[2], seeds.Settings);
        await joining.WaitUntilServingAsync(Timeout);
        await joining.WaitForMembersUpAsync(3, Timeout);
        feeders.Add(ClusterLoadFeeder.Start(joining, Enumerable.Range(keys, 6).ToDictionary(k => k, _ => 1), null, Pause, Timeout));
        await WaitUntilAsync(async () => Self(await joining.ClusterAsync()).GetProperty("shards").GetArrayLength() > 0, "the joined node owns no shard");
        await WaitForRoundsAsync(feeders, feeders.Select(f => f.Rounds).Max() + 15);
        foreach (var feeder in feeders) feeder.Stop();

        var outputs = new List<string>();
        foreach (var feeder in feeders) outputs.AddRange(await feeder.Completion.WaitAsync(Timeout));
        await AssertSingleNodeOutputsAsync(keys + 6, outputs, feeders);
        Assert.Contains("is now owned by this node", joining.Log, StringComparison.Ordinal);
        Assert.Matches(MetricAbove("lstmstream_cluster_buckets_taken_over_total"), await joining.MetricsAsync());
        var handedOff = string.Join('\n', await Task.WhenAll(nodes.Select(n => n.MetricsAsync())));
        Assert.Matches(MetricAbove("lstmstream_cluster_buckets_handed_off_total"), handedOff);
        Assert.Matches("Bucket [0-9]+ handed off", nodes[0].Log + nodes[1].Log);
        foreach (var node in nodes.Append(joining)) await AssertEveryShardNamedOnceAsync(node, members: 3);
        foreach (var node in nodes.Append(joining)) Assert.Equal(0, await node.StopAsync(Timeout));
    }

    /// <summary>
    /// Every key's step outputs are bitwise those of one node without cluster mode fed the same records in order, seq 1 up
    /// to the last its feeder sent, each once; no record was answered as a duplicate.
    /// </summary>
    private async Task AssertSingleNodeOutputsAsync(int keys, List<string> outputs, IReadOnlyList<ClusterLoadFeeder> lastFeeders)
    {
        Assert.DoesNotContain(outputs, line => line.Contains("\"duplicate\"", StringComparison.Ordinal));
        var byKey = NdjsonClient.ByKey(outputs.Where(ClusterLoad.IsStepOutput));
        Assert.Equal(keys, byKey.Count);
        var lastSeq = byKey.Values.Max(lines => ClusterLoad.SeqOf(lines[^1]));
        var expected = await SingleNodeOutputsAsync(ClusterLoad.Rounds(keys, lastSeq));
        foreach (var feeder in lastFeeders)
        {
            foreach (var k in feeder.Keys)
            {
                var lines = byKey[ClusterLoad.Key(k)];
                Assert.Equal(Enumerable.Range(1, feeder.LastSent(k)), lines.Select(ClusterLoad.SeqOf));
                Assert.Equal(expected[ClusterLoad.Key(k)].Take(lines.Count), lines);
            }
        }
    }

    /// <summary><c>GET /admin/cluster</c> names <paramref name="members"/> members and every shard exactly once: on one member or unallocated.</summary>
    private static async Task AssertEveryShardNamedOnceAsync(ClusterNode node, int members)
    {
        var cluster = await node.ClusterAsync();
        Assert.Equal(members, cluster.GetProperty("members").GetArrayLength());
        var named = cluster.GetProperty("members").EnumerateArray().SelectMany(m => m.GetProperty("shards").EnumerateArray().Select(s => s.GetInt32()))
            .Concat(cluster.GetProperty("unallocatedShards").EnumerateArray().Select(s => s.GetInt32()))
            .Order().ToList();
        Assert.Equal(Enumerable.Range(0, Shards), named);
    }

    private static JsonElement Self(JsonElement cluster) => cluster.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("self").GetBoolean());

    private static string MetricAbove(string name) => $"(?m)^{name}(\\{{[^}}]*\\}})? [1-9][0-9]*(\\s|$)";

    private static async Task WaitForRoundsAsync(IReadOnlyList<ClusterLoadFeeder> feeders, int rounds)
    {
        await WaitUntilAsync(() => Task.FromResult(feeders.All(f => f.Rounds >= rounds || f.Completion.IsCompleted)), $"the feeders did not send {rounds} rounds");
        foreach (var feeder in feeders.Where(f => f.Completion.IsCompleted)) await feeder.Completion; // surfaces a feeder's failure
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string failure)
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (!await condition())
        {
            try
            {
                await Task.Delay(200, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{failure} within {Timeout}");
            }
        }
    }

    /// <summary>
    /// Nodes on three cluster ports, all three named as seed nodes, on a new database of the private PostgreSQL; the first
    /// <paramref name="started"/> are started and see each other up. Rebalancing looks every second.
    /// </summary>
    private async Task<(ClusterNode[] Nodes, (int[] Port, string[] Settings) Seeds)> StartClusterAsync(int started)
    {
        var store = await _postgres.CreateDatabaseAsync();
        var ports = new[] { ClusterNode.FreePort(), ClusterNode.FreePort(), ClusterNode.FreePort() };
        string[] settings =
        [
            "--LstmStream:Cluster:Enabled=true", $"--LstmStream:Sessions:Store={store}", $"--LstmStream:Cluster:Shards={Shards}",
            "--LstmStream:Cluster:RebalanceInterval=00:00:01",
            .. ports.Select((port, i) => $"--LstmStream:Cluster:SeedNodes:{i}=akka.tcp://lstmstream@127.0.0.1:{port}"),
        ];
        var nodes = ports.Take(started).Select(port => StartNode(port, settings)).ToArray();
        foreach (var node in nodes) await node.WaitUntilServingAsync(Timeout);
        foreach (var node in nodes) await node.WaitForMembersUpAsync(started, Timeout);
        return (nodes, (ports, settings));
    }

    private Task<Dictionary<string, List<string>>> SingleNodeOutputsAsync(List<string> records) =>
        ClusterNode.SingleNodeOutputsAsync(records, Timeout, _nodes.Add);

    private ClusterNode StartNode(int clusterPort, params string[] settings) => _nodes.Start(clusterPort, settings);

    public void Dispose()
    {
        _nodes.Dispose();
    }
}
