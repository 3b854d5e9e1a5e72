using LstmStream.Tests.Service;
using LstmStream.Tests.Support;
using static LstmStream.Tests.Channels.Mqtt.MqttReplayData;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>
/// kill -9 of <c>lstmstream serve</c> in the middle of an MQTT stream, a restart on the same session store, and the broker's
/// redelivery of what was not acknowledged: every output and every key's final state equal an uninterrupted run's,
/// bitwise, on SQLite and on PostgreSQL. Outputs are at least once (a replayed reading is answered again with the same y,
/// or as a duplicate); no reading's effect is lost or applied twice.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class MqttKillReplayTests : IClassFixture<ReplayBroker>, IClassFixture<PostgreSqlServer>, IDisposable
{
    private const int Keys = 6;
    private const int Seqs = 120;
    private const int FirstPart = 40, SecondPart = 80;
    private readonly MosquittoBroker _broker;
    private readonly PostgreSqlServer _postgres;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-mqtt-kill-{Guid.NewGuid():N}");

    public MqttKillReplayTests(ReplayBroker broker, PostgreSqlServer postgres)
    {
        _broker = broker.Broker;
        _postgres = postgres;
    }

    [Fact]
    public Task Killed_mid_stream_and_restarted_on_SQLite_the_broker_replays_what_the_store_missed_and_every_output_and_state_equal_an_uninterrupted_run() =>
        KillAndReplayAsync(Path.Combine(_folder, "sessions.db"));

    [Fact]
    public async Task Killed_mid_stream_and_restarted_on_PostgreSQL_the_broker_replays_what_the_store_missed_and_every_output_and_state_equal_an_uninterrupted_run() =>
        await KillAndReplayAsync(await _postgres.CreateDatabaseAsync());

    private async Task KillAndReplayAsync(string store)
    {
        if (!OperatingSystem.IsLinux()) return;
        var (expected, expectedStates) = await UninterruptedRunAsync();

        var prefix = $"k{Guid.NewGuid():N}"[..13];
        var clientId = $"kill-{prefix}";
        var port = RunningService.FreePort();
        string[] settings =
        [
            .. Settings(_broker, prefix, clientId), "--LstmStream:Math:Backend=managed", $"--LstmStream:Sessions:Store={store}",
            "--LstmStream:Sessions:Buckets=8", "--LstmStream:Sessions:Checkpoint:Interval=00:00:00.5", "--LstmStream:Http:Enabled=true",
            $"--LstmStream:Http:Endpoint=127.0.0.1:{port}", "--LstmStream:StatisticsInterval=00:00:00",
        ];
        await PrepareSessionAsync(_broker, prefix, clientId);
        await using var client = await MqttTestClient.ConnectAsync(_broker, OutputFilter(prefix));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = ReplayTimeout };

        string killedLog;
        Task stillPublishing;
        using (var killed = ServeProcess.Start(settings))
        {
            // The first part is answered and acknowledged (covered by a written checkpoint) before the crash.
            await PublishAsync(client, prefix, Keys, 1, FirstPart);
            try
            {
                await WaitForOutputsAsync(client, Keys * FirstPart);
                await WaitForMetricAsync(http, "lstmstream_mqtt_acknowledged_total", v => v >= Keys * FirstPart, "the first part's acknowledgement");
            }
            catch (Exception e) when (e is TimeoutException or HttpRequestException)
            {
                throw new TimeoutException($"{e.Message}; log of the first process:\n{await killed.KillAsync()}", e);
            }

            // The second part is published at a steady pace; the process dies while it flows, readings of the last
            // checkpoint interval answered but not stored, hence not acknowledged.
            stillPublishing = PublishAsync(client, prefix, Keys, FirstPart + 1, SecondPart, TimeSpan.FromMilliseconds(4));
            await WaitForOutputsAsync(client, Keys * FirstPart + Keys * (SecondPart - FirstPart) / 2);
            killedLog = await killed.KillAsync();
        }

        // Published while the service is down: the broker keeps them for its session.
        await stillPublishing;
        await PublishAsync(client, prefix, Keys, SecondPart + 1, Seqs);
        var beforeRestart = Outputs(client).Count;

        using var restarted = ServeProcess.Start(settings);
        var outputs = await WaitForEveryOutputAsync(client, restarted, http, beforeRestart);
        foreach (var output in outputs.Where(o => !o.IsDuplicate))
            Assert.True(expected[(output.Key, output.Seq)] == output.Y, $"{output.Key} seq {output.Seq}: y {output.Y}, uninterrupted {expected[(output.Key, output.Seq)]}");
        var answered = outputs.Where(o => !o.IsDuplicate).Select(o => (o.Key, o.Seq)).ToHashSet();
        Assert.Equal(expected.Keys.ToHashSet(), answered);
        // A duplicate answers a replayed reading whose effect the store held: its y was published before the crash.
        foreach (var duplicate in outputs.Where(o => o.IsDuplicate)) Assert.Contains((duplicate.Key, duplicate.Seq), answered);

        // Acknowledged readings are not delivered again: the first part was answered exactly once.
        Assert.All(outputs.Where(o => o.Seq <= FirstPart).GroupBy(o => (o.Key, o.Seq)), group => Assert.Single(group));
        // The crash did cut a stream: readings answered before it were delivered again after it.
        Assert.True(outputs.Count > expected.Count, $"nothing was replayed ({outputs.Count} outputs, {beforeRestart} before the restart); log of the killed process:\n{killedLog}");

        for (var k = 0; k < Keys; k++)
        {
            var state = await KeyStateAsync(http, Key(k));
            Assert.Equal(Seqs, state.GetProperty("lastSeq").GetInt64());
            Assert.Equal(expectedStates[k].C, state.GetProperty("c").GetRawText());
            Assert.Equal(expectedStates[k].H, state.GetProperty("h").GetRawText());
        }

        using var timeout = new CancellationTokenSource(ReplayTimeout);
        var (exit, log) = await restarted.StopAsync(timeout.Token);
        Assert.True(exit == 0, log);
    }

    /// <summary>
    /// Every reading through a service without a store that keeps every key in memory: each y and each key's final state.
    /// Both runs batch as they come (the readings sent at once here, paced, killed and replayed there): on the managed
    /// backend a row's result does not depend on the batch it is stepped in.
    /// </summary>
    private static async Task<(Dictionary<(string Key, long Seq), string> Y, (string C, string H)[] States)> UninterruptedRunAsync()
    {
        await using var reference = await RunningService.StartAsync();
        var lines = new List<string>();
        for (var seq = 1; seq <= Seqs; seq++)
        {
            for (var k = 0; k < Keys; k++) lines.Add(Line(k, seq));
        }

        using var tcp = await reference.ConnectAsync();
        var y = YBySeq(await NdjsonClient.ExchangeAsync(tcp, lines, ReplayTimeout));
        Assert.Equal(Keys * Seqs, y.Count);
        using var http = new HttpClient { BaseAddress = reference.HttpBase, Timeout = ReplayTimeout };
        var states = new (string, string)[Keys];
        for (var k = 0; k < Keys; k++)
        {
            var state = await KeyStateAsync(http, Key(k));
            Assert.Equal(Seqs, state.GetProperty("lastSeq").GetInt64());
            states[k] = (state.GetProperty("c").GetRawText(), state.GetProperty("h").GetRawText());
        }

        return (y, states);
    }

    /// <summary>Waits until every (key, seq) has been answered with a y; fails with the service's log if it exits first.</summary>
    private static async Task<List<ReplayOutput>> WaitForEveryOutputAsync(MqttTestClient client, ServeProcess service, HttpClient http, int beforeRestart)
    {
        var deadline = DateTime.UtcNow + ReplayTimeout;
        while (true)
        {
            var outputs = Outputs(client);
            if (outputs.Where(o => !o.IsDuplicate).Select(o => (o.Key, o.Seq)).Distinct().Count() == Keys * Seqs) return outputs;
            if (service.HasExited || DateTime.UtcNow > deadline)
            {
                var metrics = service.HasExited ? "" : string.Join("\n", (await http.GetStringAsync("metrics")).Split('\n')
                    .Where(l => l.StartsWith("lstmstream_mqtt", StringComparison.Ordinal) || l.StartsWith("lstmstream_records", StringComparison.Ordinal) ||
                                l.StartsWith("lstmstream_sessions_duplicates", StringComparison.Ordinal) || l.StartsWith("lstmstream_sessions_restore", StringComparison.Ordinal)));
                var missing = Enumerable.Range(0, Keys).SelectMany(k => Enumerable.Range(1, Seqs).Select(seq => (Key(k), (long)seq)))
                    .Except(outputs.Where(o => !o.IsDuplicate).Select(o => (o.Key, o.Seq))).ToList();
                using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var (_, log) = await service.StopAsync(stop.Token);
                throw new TimeoutException($"{outputs.Count} outputs ({beforeRestart} before the restart), {missing.Count} readings not answered within {ReplayTimeout} " +
                                           $"(first {string.Join(", ", missing.Take(8))}); metrics:\n{metrics}\nlog:\n{log}");
            }

            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
