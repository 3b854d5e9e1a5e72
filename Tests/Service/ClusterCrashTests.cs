using System.Diagnostics;
using System.Text.Json;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Channels.Mqtt;
using LstmStream.Tests.Support;
using Xunit.Abstractions;
using static LstmStream.Tests.Channels.Mqtt.MqttReplayData;

namespace LstmStream.Tests.Service;

/// <summary>
/// kill -9 of one of three real <c>serve</c> nodes (private PostgreSQL store, mosquitto) while MQTT readings of many keys
/// flow: the survivors take every shard over (the crashed node downed by the split-brain resolver, its buckets started
/// from their last checkpoint), the crashed node's persistent MQTT session is resumed by restarting it with the same client
/// id, the broker delivers again what it had not acknowledged, and every key's final state is bitwise that of one node
/// without cluster mode fed the same readings.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class ClusterCrashTests : IClassFixture<ReplayBroker>, IClassFixture<PostgreSqlServer>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private const int Shards = 12;
    private const int Buckets = 256;
    private const int Seqs = 60;
    private const int FirstPart = 20, SecondPart = 50;

    /// <summary>How long membership must be stable before the crashed node is downed (also the down-removal margin).</summary>
    private static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(5);

    /// <summary>24 keys or more, enough for every shard to hold one (so every shard is used and must be taken over).</summary>
    private static readonly int Keys = KeysCoveringEveryShard(24);

    private readonly MosquittoBroker _broker;
    private readonly PostgreSqlServer _postgres;
    private readonly ITestOutputHelper _output;
    private readonly ClusterNodeSet _nodes = new(nameof(ClusterCrashTests));
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();

    public ClusterCrashTests(ReplayBroker broker, PostgreSqlServer postgres, ITestOutputHelper output)
    {
        _broker = broker.Broker;
        _postgres = postgres;
        _output = output;
    }

    [Fact]
    public async Task A_node_killed_under_MQTT_load_is_taken_over_by_the_survivors_and_after_the_replay_every_key_ends_as_on_one_node()
    {
        if (!OperatingSystem.IsLinux()) return;
        var reference = UninterruptedRunAsync();

        var prefix = $"c{Guid.NewGuid():N}"[..13];
        var clientId = $"crash-{prefix}";
        await PrepareSessionAsync(_broker, prefix, clientId);
        await using var client = await MqttTestClient.ConnectAsync(_broker, OutputFilter(prefix));

        // Three nodes; the third reads MQTT (its own client id, acknowledging after the checkpoint) and is the one killed.
        var store = await _postgres.CreateDatabaseAsync();
        var ports = new[] { ClusterNode.FreePort(), ClusterNode.FreePort(), ClusterNode.FreePort() };
        string[] cluster =
        [
            "--LstmStream:Cluster:Enabled=true", $"--LstmStream:Sessions:Store={store}", $"--LstmStream:Cluster:Shards={Shards}",
            $"--LstmStream:Sessions:Buckets={Buckets}", $"--LstmStream:Cluster:StableAfter={StableAfter}", "--LstmStream:Sessions:Checkpoint:Interval=00:00:00.5",
            .. ports.Select((port, i) => $"--LstmStream:Cluster:SeedNodes:{i}=akka.tcp://lstmstream@127.0.0.1:{port}"),
        ];
        string[] mqtt = [.. cluster, .. Settings(_broker, prefix, clientId)];
        // All three start together on the new, empty database (they create its tables one after the other).
        var nodes = new[] { StartNode(ports[0], cluster), StartNode(ports[1], cluster), StartNode(ports[2], mqtt) };
        foreach (var node in nodes) await node.WaitUntilServingAsync(Timeout);
        foreach (var node in nodes) await node.WaitForMembersUpAsync(3, Timeout);
        Note("three nodes up");
        var (survivors, killed) = (nodes[..2], nodes[2]);
        using var killedHttp = new HttpClient { BaseAddress = killed.HttpBase, Timeout = Timeout };

        // The first part is answered and acknowledged (covered by written checkpoints) before the crash; every shard is in use.
        await PublishAsync(client, prefix, Keys, 1, FirstPart);
        await WaitForOutputsAsync(client, Keys * FirstPart);
        await WaitForMetricAsync(killedHttp, "lstmstream_mqtt_acknowledged_total", v => v >= Keys * FirstPart, "the first part's acknowledgement");
        var before = await survivors[0].ClusterAsync();
        Assert.Empty(before.GetProperty("unallocatedShards").EnumerateArray());
        var killedShards = Member(before, killed.Address).GetProperty("shards").EnumerateArray().Select(s => s.GetInt32()).ToList();
        Assert.NotEmpty(killedShards);

        // The second part is published at a steady pace; the MQTT node dies while it flows, with readings answered but not
        // yet covered by a checkpoint (hence not acknowledged) and outputs on their way.
        var stillPublishing = PublishAsync(client, prefix, Keys, FirstPart + 1, SecondPart, TimeSpan.FromMilliseconds(4));
        await WaitForOutputsAsync(client, Keys * FirstPart + Keys * (SecondPart - FirstPart) / 2);
        await killed.KillAsync();
        var crash = Stopwatch.StartNew();
        Note("killed");

        // The survivors own every shard: the crashed node downed and removed, its shards started on them on first use
        // (a look-up of one key per shard through a survivor uses every shard).
        var takeover = await WaitForTakeoverAsync(survivors, killed.Address, crash);
        Note($"survivors own all {Shards} shards {takeover.TotalSeconds:F1} s after the kill ({killedShards.Count} were the killed node's; " +
                          $"stable-after {StableAfter.TotalSeconds} s)");
        await stillPublishing;
        await PublishAsync(client, prefix, Keys, SecondPart + 1, Seqs);
        var beforeRestart = Outputs(client).Count;

        // The crashed node comes back with the same client id: the broker delivers what it had not acknowledged.
        var restarted = StartNode(ports[2], mqtt);
        await restarted.WaitUntilServingAsync(Timeout);
        var (expected, expectedStates) = await reference;
        Note("restarted");
        var outputs = await WaitForEveryAnswerAsync(client, restarted);
        Note("every reading answered");

        foreach (var output in outputs.Where(o => !o.IsDuplicate))
        {
            Assert.True(expected[(output.Key, output.Seq)] == output.Y,
                $"{output.Key} (bucket {KeyBuckets.BucketOf(output.Key, Buckets)}, shard {ShardOf(output.Key)}; the killed node's shards: " +
                $"{string.Join(", ", killedShards)}) seq {output.Seq}: y {output.Y}, on one node {expected[(output.Key, output.Seq)]}; its outputs in order: " +
                string.Join(" ", outputs.Where(o => o.Key == output.Key).Select(o => o.IsDuplicate ? $"{o.Seq}:dup" : $"{o.Seq}{(expected[(o.Key, o.Seq)] == o.Y ? "" : ":WRONG")}")));
        }
        var answered = outputs.Where(o => !o.IsDuplicate).Select(o => (o.Key, o.Seq)).ToHashSet();
        var onlyDuplicate = outputs.Where(o => o.IsDuplicate).Select(o => (o.Key, o.Seq)).Where(r => !answered.Contains(r)).Distinct().ToList();
        Note($"{outputs.Count} outputs ({beforeRestart} before the restart) for {expected.Count} readings; " +
                          $"{onlyDuplicate.Count} reading(s) answered only as duplicates: {string.Join(", ", onlyDuplicate.Take(10))}");
        // Every reading is answered: with its y, or as a duplicate when the owner of its key had already applied it.
        Assert.True(expected.Keys.ToHashSet().SetEquals(answered.Union(onlyDuplicate)), "some readings were never answered");
        // Inherent (README, Cluster, Crash): a reading a surviving owner applied whose output was on its way back to the
        // killed node, or not yet published by it, is answered as a duplicate after the restart: its y is lost with the
        // killed node's connections. The killed node's own buckets keep at-least-once outputs (a bucket is written only
        // after its outputs went out).
        Assert.All(onlyDuplicate, reading => Assert.DoesNotContain(ShardOf(reading.Key), killedShards));
        // Acknowledged readings are not delivered again: the first part was answered exactly once.
        Assert.All(outputs.Where(o => o.Seq <= FirstPart).GroupBy(o => (o.Key, o.Seq)), group => Assert.Single(group));
        // The crash did cut the stream: readings answered before it were delivered again after it.
        Assert.True(outputs.Count > expected.Count, $"nothing was replayed ({outputs.Count} outputs, {beforeRestart} before the restart)");

        // Every key's state lives on at most one node (its bucket's owner) and is bitwise the uninterrupted run's. A bucket
        // that the rebalance after the restart has just moved has its keys only in the store until their next record
        // (freed on the old owner, restored on demand): then every node answers the stored state.
        var running = survivors.Append(restarted).ToList();
        for (var k = 0; k < Keys; k++)
        {
            var states = (await Task.WhenAll(running.Select(n => KeyStateOnAsync(n, Key(k))))).Where(s => s is not null).Select(s => s!.Value).ToList();
            var live = states.Where(state => state.GetProperty("live").GetBoolean()).ToList();
            Assert.True(live.Count <= 1, $"{Key(k)} is live on {live.Count} nodes");
            Assert.True(states.Count == running.Count, $"{Key(k)}: {running.Count - states.Count} node(s) know no state of it");
            var state = live.Count == 1 ? live[0] : states[0];
            Assert.Equal(Seqs, state.GetProperty("lastSeq").GetInt64());
            Assert.Equal(expectedStates[k].C, state.GetProperty("c").GetRawText());
            Assert.Equal(expectedStates[k].H, state.GetProperty("h").GetRawText());
        }

        var metrics = string.Join('\n', await Task.WhenAll(survivors.Select(n => n.MetricsAsync())));
        Assert.Matches("(?m)^lstmstream_cluster_buckets_taken_over_total(\\{[^}]*\\})? [1-9]", metrics);
        Assert.Contains("is now owned by this node", survivors[0].Log + survivors[1].Log, StringComparison.Ordinal);
        foreach (var node in running) Assert.Equal(0, await node.StopAsync(Timeout));
    }

    /// <summary>
    /// Polls a survivor until the killed node has left the membership and the survivors own every shard, using one key of
    /// every shard through the survivors meanwhile; returns the time from the kill to the start of the first poll that saw
    /// it. Polls overlap (one starts every 250 ms): while the killed node is a member an answer waits for its region's
    /// timeout, which would blur the time.
    /// </summary>
    private static async Task<TimeSpan> WaitForTakeoverAsync(ClusterNode[] survivors, string killed, Stopwatch sinceKill)
    {
        using var http = new HttpClient { BaseAddress = survivors[0].HttpBase, Timeout = TimeSpan.FromSeconds(2) };
        var oneKeyPerShard = Enumerable.Range(0, Keys).Select(Key).GroupBy(ShardOf).Select(g => g.First()).ToList();
        var polls = new List<Task<TimeSpan?>>();
        var last = "";
        async Task<TimeSpan?> PollAsync()
        {
            var startedAt = sinceKill.Elapsed;
            JsonElement cluster;
            try
            {
                cluster = await survivors[0].ClusterAsync();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
                return null;
            }

            last = cluster.GetRawText();
            var members = cluster.GetProperty("members").EnumerateArray().ToList();
            var owned = members.SelectMany(m => m.GetProperty("shards").EnumerateArray().Select(s => s.GetInt32())).Order().ToList();
            var done = members.Count == 2 && members.All(m => m.GetProperty("address").GetString() != killed && m.GetProperty("status").GetString() == "Up") &&
                       cluster.GetProperty("unallocatedShards").GetArrayLength() == 0 && owned.SequenceEqual(Enumerable.Range(0, Shards));
            return done ? startedAt : null;
        }

        async Task UseEveryShardAsync()
        {
            // A shard whose home was the killed node starts on a survivor at its first message once the node is removed.
            await Task.WhenAll(oneKeyPerShard.Select(async key =>
            {
                try
                {
                    using var _ = await http.GetAsync($"admin/keys/{key}");
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // Its shard's home is still the unreachable node.
                }
            }));
        }

        var lookUps = new List<Task>();
        while (sinceKill.Elapsed < Timeout)
        {
            polls.Add(PollAsync());
            if (lookUps.Count == 0 || lookUps[^1].IsCompleted) lookUps.Add(UseEveryShardAsync());
            await Task.Delay(250);
            foreach (var poll in polls.Where(p => p.IsCompleted).ToList())
            {
                polls.Remove(poll);
                if (await poll is { } seen)
                {
                    await Task.WhenAll(lookUps);
                    return seen;
                }
            }
        }

        throw new TimeoutException($"the survivors did not own every shard within {Timeout} of the kill; last answer {last}");
    }

    /// <summary>Waits until every reading has been answered (with a y or as a duplicate) after the restart and nothing more comes.</summary>
    private static async Task<List<ReplayOutput>> WaitForEveryAnswerAsync(MqttTestClient client, ClusterNode restarted)
    {
        using var http = new HttpClient { BaseAddress = restarted.HttpBase, Timeout = Timeout };
        var deadline = DateTime.UtcNow + Timeout;
        var all = Enumerable.Range(0, Keys).SelectMany(k => Enumerable.Range(1, Seqs).Select(seq => (Key(k), (long)seq))).ToHashSet();
        while (true)
        {
            var outputs = Outputs(client);
            var missing = all.Except(outputs.Select(o => (o.Key, o.Seq))).ToList();
            if (missing.Count == 0 && await MetricAsync(http, "lstmstream_mqtt_awaiting_acknowledgement") == 0) return Outputs(client);
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{missing.Count} readings not answered within {Timeout} (first {string.Join(", ", missing.Take(8))}); log of the " +
                                           $"restarted node:\n{restarted.Log}");
            await Task.Delay(100);
        }
    }

    /// <summary>A key's state document on <paramref name="node"/> (live there, or the stored one), null when it has none.</summary>
    private static async Task<JsonElement?> KeyStateOnAsync(ClusterNode node, string key)
    {
        using var http = new HttpClient { BaseAddress = node.HttpBase, Timeout = Timeout };
        using var response = await http.GetAsync($"admin/keys/{key}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>
    /// Every reading on one connection of one node without cluster mode and without a store: each y and each key's final
    /// state. On the managed backend a row's result does not depend on the batch it is stepped in.
    /// </summary>
    private async Task<(Dictionary<(string Key, long Seq), string> Y, (string C, string H)[] States)> UninterruptedRunAsync()
    {
        await Task.Yield();
        var node = StartNode(ClusterNode.FreePort());
        await node.WaitUntilServingAsync(Timeout);
        var lines = new List<string>();
        for (var seq = 1; seq <= Seqs; seq++)
        {
            for (var k = 0; k < Keys; k++) lines.Add(Line(k, seq));
        }

        var y = YBySeq(await node.ExchangeAsync(lines, Timeout));
        Assert.Equal(Keys * Seqs, y.Count);
        var states = new (string, string)[Keys];
        for (var k = 0; k < Keys; k++)
        {
            var state = (await KeyStateOnAsync(node, Key(k)))!.Value;
            Assert.Equal(Seqs, state.GetProperty("lastSeq").GetInt64());
            states[k] = (state.GetProperty("c").GetRawText(), state.GetProperty("h").GetRawText());
        }

        Assert.Equal(0, await node.StopAsync(Timeout));
        return (y, states);
    }

    /// <summary>A line of the test's output with the seconds since the test began (where the time of a run goes).</summary>
    private void Note(string text) => _output.WriteLine($"{_elapsed.Elapsed.TotalSeconds,6:F1} s  {text}");

    private static int ShardOf(string key) => KeyBuckets.BucketOf(key, Buckets) % Shards;

    private static int KeysCoveringEveryShard(int atLeast)
    {
        var keys = atLeast;
        while (Enumerable.Range(0, keys).Select(k => ShardOf(Key(k))).Distinct().Count() < Shards) keys++;
        return keys;
    }

    private static JsonElement Member(JsonElement cluster, string address) =>
        cluster.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("address").GetString() == address);

    private ClusterNode StartNode(int clusterPort, params string[] settings) => _nodes.Start(clusterPort, settings);

    public void Dispose()
    {
        _nodes.Dispose();
    }
}
