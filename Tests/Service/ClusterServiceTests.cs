using System.Text.Json;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Service;

/// <summary>
/// Cluster mode with real <c>serve</c> processes on 127.0.0.1: a one-node cluster and three nodes on a private
/// PostgreSQL store give bitwise the outputs of one node without cluster mode, in input order per key, whichever node
/// a key's records enter.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class ClusterServiceTests : IClassFixture<PostgreSqlServer>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly PostgreSqlServer _postgres;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-cluster-{Guid.NewGuid():N}");
    private readonly ClusterNodeSet _nodes = new(nameof(ClusterServiceTests));

    public ClusterServiceTests(PostgreSqlServer postgres) => _postgres = postgres;

    [Fact]
    public async Task A_one_node_cluster_gives_bitwise_the_outputs_of_cluster_mode_off()
    {
        var records = Records(keys: 12, from: 1, to: 6);
        var expected = await SingleNodeOutputsAsync(records);

        Directory.CreateDirectory(_folder);
        var node = Start(ClusterNode.FreePort(), "--LstmStream:Cluster:Enabled=true", $"--LstmStream:Sessions:Store={Path.Combine(_folder, "s.db")}");
        await node.WaitUntilServingAsync(Timeout);
        var outputs = await node.ExchangeAsync(records, Timeout);

        Assert.Equal(expected, NdjsonClient.ByKey(outputs.Where(IsOutput)));
        var cluster = await node.ClusterAsync();
        var member = Assert.Single(cluster.GetProperty("members").EnumerateArray());
        Assert.Equal("Up", member.GetProperty("status").GetString());
        Assert.Equal(node.Address, member.GetProperty("address").GetString());
        Assert.Equal(12, member.GetProperty("liveKeys").GetInt64());
        // Every bucket the records touched is in a shard of this node.
        Assert.NotEmpty(member.GetProperty("shards").EnumerateArray());
        Assert.Equal(0, await node.StopAsync(Timeout));
    }

    [Fact]
    public async Task Three_nodes_fed_interleaved_keys_through_all_three_give_the_single_node_outputs_in_input_order_per_key()
    {
        const int keys = 24;
        var nodes = await StartThreeNodesAsync();

        // The reference: one node without cluster mode, every record in order on one connection.
        var expected = await SingleNodeOutputsAsync(Records(keys, 1, 8));

        // First seq 1..4 of every key at once through all three nodes: key k enters at node k mod 3, on one connection each.
        var first = Records(keys, 1, 4);
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 3).Select(n =>
            nodes[n].ExchangeAsync(first.Where(r => KeyNumber(r) % 3 == n).ToList(), Timeout)));
        // Then seq 5..8 one round at a time, each round of every key through another node than the round before.
        var rounds = new List<string>();
        for (var seq = 5; seq <= 8; seq++) rounds.AddRange(await nodes[seq % 3].ExchangeAsync(Records(keys, seq, seq), Timeout));

        var outputs = NdjsonClient.ByKey(concurrent.SelectMany(o => o).Concat(rounds).Where(IsOutput));
        Assert.Equal(keys, outputs.Count);
        foreach (var (key, lines) in expected) Assert.Equal(lines, outputs[key]);

        // Every shard of the records' buckets is owned by exactly one node, and each node sees the same three members.
        var owned = new List<int>();
        foreach (var node in nodes)
        {
            var cluster = await node.ClusterAsync();
            Assert.Equal(3, cluster.GetProperty("members").GetArrayLength());
            var self = cluster.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("self").GetBoolean());
            owned.AddRange(self.GetProperty("shards").EnumerateArray().Select(s => s.GetInt32()));
        }

        Assert.Equal(owned.Count, owned.Distinct().Count());
        foreach (var node in nodes) Assert.Equal(0, await node.StopAsync(Timeout));
    }

    [Fact]
    public async Task A_key_s_records_arriving_at_two_nodes_at_once_are_applied_in_one_order()
    {
        const int keys = 6, perKey = 60;
        var nodes = await StartThreeNodesAsync();

        // Every key's odd seq through the first node and its even seq through the second, both connections at once: the
        // key's owner takes them in whatever order they arrive; a seq at or below the key's last one is a duplicate.
        var records = Records(keys, 1, perKey);
        var halves = await Task.WhenAll(Enumerable.Range(0, 2).Select(n =>
            nodes[n].ExchangeAsync(records.Where(r => SeqOf(r) % 2 == (n == 0 ? 1 : 0)).ToList(), Timeout)));
        var outputs = halves.SelectMany(h => h).Where(IsOutput).ToList();
        Assert.Equal(records.Count, outputs.Count);

        // The applied ones (with y), in seq order, must be one key's single history: a single node stepping exactly those,
        // in that order, gives them bitwise. Steps applied in two orders (or on two states) would not.
        var applied = outputs.Where(o => !o.Contains("\"duplicate\"", StringComparison.Ordinal)).ToList();
        var appliedRecords = records.Where(r => applied.Any(o => SameRecord(o, r))).ToList();
        var expected = await SingleNodeOutputsAsync(appliedRecords);
        var actual = NdjsonClient.ByKey(applied.OrderBy(SeqOf));
        Assert.Equal(keys, actual.Count);
        foreach (var (key, lines) in expected) Assert.Equal(lines, actual[key]);
        foreach (var node in nodes) Assert.Equal(0, await node.StopAsync(Timeout));
    }

    [Fact]
    public async Task A_node_that_leaves_gracefully_hands_its_keys_over_with_their_state()
    {
        const int keys = 24;
        var nodes = await StartThreeNodesAsync();
        var expected = await SingleNodeOutputsAsync(Records(keys, 1, 8));

        // Seq 1..4 of every key through all three nodes; the third then leaves (SIGTERM: its final checkpoint, then its
        // shards are handed off), and seq 5..8 go through the two left, alternating.
        var first = Records(keys, 1, 4);
        var before = await Task.WhenAll(Enumerable.Range(0, 3).Select(n => nodes[n].ExchangeAsync(first.Where(r => KeyNumber(r) % 3 == n).ToList(), Timeout)));
        var leaving = (await nodes[2].ClusterAsync()).GetProperty("members").EnumerateArray().Single(m => m.GetProperty("self").GetBoolean());
        Assert.NotEmpty(leaving.GetProperty("shards").EnumerateArray());
        Assert.Equal(0, await nodes[2].StopAsync(Timeout));
        Assert.Contains("Final checkpoint", nodes[2].Log, StringComparison.Ordinal);
        await nodes[0].WaitForMembersUpAsync(2, Timeout);

        var after = new List<string>();
        for (var seq = 5; seq <= 8; seq++) after.AddRange(await nodes[seq % 2].ExchangeAsync(Records(keys, seq, seq), Timeout));

        // Every key continues from its state: nothing lost, nothing applied twice, no output twice.
        var outputs = NdjsonClient.ByKey(before.SelectMany(o => o).Concat(after).Where(IsOutput));
        Assert.Equal(keys, outputs.Count);
        foreach (var (key, lines) in expected) Assert.Equal(lines, outputs[key]);
        // The two left see each other only.
        foreach (var node in nodes[..2]) Assert.Equal(2, (await node.ClusterAsync()).GetProperty("members").GetArrayLength());
        foreach (var node in nodes[..2]) Assert.Equal(0, await node.StopAsync(Timeout));
    }

    /// <summary>Three cluster nodes on a new database of the private PostgreSQL, each seeing all three up.</summary>
    private async Task<ClusterNode[]> StartThreeNodesAsync()
    {
        var store = await _postgres.CreateDatabaseAsync();
        var ports = new[] { ClusterNode.FreePort(), ClusterNode.FreePort(), ClusterNode.FreePort() };
        var seeds = ports.Select((port, i) => $"--LstmStream:Cluster:SeedNodes:{i}=akka.tcp://lstmstream@127.0.0.1:{port}").ToArray();
        var nodes = ports.Select(port => Start(port, [
            "--LstmStream:Cluster:Enabled=true", $"--LstmStream:Sessions:Store={store}", "--LstmStream:Cluster:Shards=12", .. seeds,
        ])).ToArray();
        foreach (var node in nodes) await node.WaitUntilServingAsync(Timeout);
        foreach (var node in nodes) await node.WaitForMembersUpAsync(3, Timeout);
        return nodes;
    }

    /// <summary>Seq <paramref name="from"/>..<paramref name="to"/> of keys <c>sensor-0</c>.., keys interleaved.</summary>
    private static List<string> Records(int keys, int from, int to)
    {
        var records = new List<string>();
        for (var seq = from; seq <= to; seq++)
        {
            for (var k = 0; k < keys; k++) records.Add(NdjsonClient.Record($"sensor-{k}", seq, 0.1f * k - 0.5f, MathF.Sin(seq + k), 0.25f * seq, -0.125f * k));
        }

        return records;
    }

    /// <summary>Not a commit record (<c>{"key","committed"}</c>: the TCP commit protocol, sent whenever a checkpoint covers a key).</summary>
    private static bool IsOutput(string line) => !line.Contains("\"committed\"", StringComparison.Ordinal);

    private static long SeqOf(string line) => JsonDocument.Parse(line).RootElement.GetProperty("seq").GetInt64();

    private static bool SameRecord(string output, string record)
    {
        var (a, b) = (JsonDocument.Parse(output).RootElement, JsonDocument.Parse(record).RootElement);
        return a.GetProperty("key").GetString() == b.GetProperty("key").GetString() && a.GetProperty("seq").GetInt64() == b.GetProperty("seq").GetInt64();
    }

    private static int KeyNumber(string record)
    {
        var key = JsonDocument.Parse(record).RootElement.GetProperty("key").GetString()!;
        return int.Parse(key["sensor-".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private Task<Dictionary<string, List<string>>> SingleNodeOutputsAsync(List<string> records) =>
        ClusterNode.SingleNodeOutputsAsync(records, Timeout, _nodes.Add);

    private ClusterNode Start(int clusterPort, params string[] settings) => _nodes.Start(clusterPort, settings);

    public void Dispose()
    {
        _nodes.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
