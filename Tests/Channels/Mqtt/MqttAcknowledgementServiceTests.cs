using LstmStream.Tests.Service;
using LstmStream.Tests.Support;
using MQTTnet.Protocol;
using static LstmStream.Tests.Channels.Mqtt.MqttReplayData;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>
/// <c>serve</c> acknowledging MQTT readings after the checkpoint, against a real mosquitto broker (and a real PostgreSQL
/// server for the outage): nothing is acknowledged before a written checkpoint covers it, a graceful stop acknowledges
/// what its final checkpoint stored, a store that cannot be written stops acknowledgement until it is back.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class MqttAcknowledgementServiceTests : IClassFixture<ReplayBroker>, IClassFixture<PostgreSqlServer>, IDisposable
{
    private const string Acknowledged = "lstmstream_mqtt_acknowledged_total";
    private const string Awaiting = "lstmstream_mqtt_awaiting_acknowledgement";
    private readonly MosquittoBroker _broker;
    private readonly PostgreSqlServer _postgres;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-mqtt-ack-{Guid.NewGuid():N}");
    private readonly string _prefix = $"a{Guid.NewGuid():N}"[..13];

    public MqttAcknowledgementServiceTests(ReplayBroker broker, PostgreSqlServer postgres)
    {
        _broker = broker.Broker;
        _postgres = postgres;
    }

    private string ClientId => $"ack-{_prefix}";

    [Fact(Skip = "Flaky in the full suite (issue 12): in 1 of 3 clean CI runs the metric read back after a restart or an outage was another value than this host's (acknowledged 0 after 12, a duplicate counted); not yet known whether a reconnect or metrics of another host; passes alone")]
    public async Task Readings_wait_for_a_written_checkpoint_and_a_graceful_stop_acknowledges_what_its_final_checkpoint_stored()
    {
        const int keys = 3;
        // No checkpoint but the drain's: the interval is an hour.
        string[] settings = [.. Settings(_broker, _prefix, ClientId), $"--LstmStream:Sessions:Store={Path.Combine(_folder, "sessions.db")}",
            "--LstmStream:Sessions:Checkpoint:Interval=01:00:00"];
        await PrepareSessionAsync(_broker, _prefix, ClientId);
        await using var client = await MqttTestClient.ConnectAsync(_broker, OutputFilter(_prefix));
        await using (var service = await RunningService.StartAsync(settings))
        {
            using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = ReplayTimeout };
            await PublishAsync(client, _prefix, keys, 1, 4);
            // A QoS 0 reading among them keeps its place too (nothing to acknowledge, but its output is its own).
            await client.PublishAsync(ReadingTopic(_prefix, 0), Payload(0, 5), MqttQualityOfServiceLevel.AtMostOnce);
            await client.PublishAsync(ReadingTopic(_prefix, 0), Payload(0, 6));
            await WaitForOutputsAsync(client, keys * 4 + 2);

            Assert.Equal(0, await MetricAsync(http, Acknowledged));
            Assert.Equal(keys * 4 + 2, await MetricAsync(http, Awaiting));
            Assert.Equal(0, await service.StopAsync());
            Assert.Contains(service.Logs, l => l.Contains("Final checkpoint", StringComparison.Ordinal));
        }

        // A new process on the same session: had the readings not been acknowledged, the broker would deliver them again
        // before the reading published now, and they would be received (and answered as duplicates) before it.
        await using (var service = await RunningService.StartAsync(settings))
        {
            using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = ReplayTimeout };
            await PublishAsync(client, _prefix, keys: 1, 7, 7);
            await WaitForOutputsAsync(client, keys * 4 + 3);

            Assert.Equal(1, await MetricAsync(http, "lstmstream_records_received_total"));
            Assert.Equal(0, await MetricAsync(http, "lstmstream_sessions_duplicates_total"));
            Assert.Equal(1, await MetricAsync(http, Awaiting));
        }

        var outputs = Outputs(client);
        Assert.Equal(keys * 4 + 3, outputs.Count);
        Assert.DoesNotContain(outputs, o => o.IsDuplicate);
    }

    [Fact(Skip = "Flaky in the full suite (issue 12): in 1 of 3 clean CI runs the metric read back after a restart or an outage was another value than this host's (acknowledged 0 after 12, a duplicate counted); not yet known whether a reconnect or metrics of another host; passes alone")]
    public async Task While_PostgreSQL_is_down_nothing_more_is_acknowledged_and_acknowledgement_resumes_once_it_is_back()
    {
        const int keys = 4;
        string[] settings = [.. Settings(_broker, _prefix, ClientId), $"--LstmStream:Sessions:Store={await _postgres.CreateDatabaseAsync()}",
            "--LstmStream:Sessions:Buckets=8", "--LstmStream:Sessions:Checkpoint:Interval=00:00:00.3", "--LstmStream:Sessions:Checkpoint:MaxRetryDelay=00:00:01"];
        await using var served = await ServedAsync(settings);
        var (client, http) = (served.Client, served.Http);

        await PublishAsync(client, _prefix, keys, 1, 3);
        await WaitForOutputsAsync(client, keys * 3);
        await WaitForMetricAsync(http, Acknowledged, v => v >= keys * 3, "the first readings' checkpoint");

        try
        {
            await _postgres.StopAsync();
            await PublishAsync(client, _prefix, keys, 4, 6);
            // Serving goes on while the store is down.
            await WaitForOutputsAsync(client, keys * 6);
            // Two more failed checkpoints: the second began after every output above was delivered, so it would have covered them.
            var failures = await MetricAsync(http, "lstmstream_sessions_checkpoint_failures_total");
            await WaitForMetricAsync(http, "lstmstream_sessions_checkpoint_failures_total", v => v >= failures + 2, "failed checkpoints");

            Assert.Equal(keys * 3, await MetricAsync(http, Acknowledged));
            Assert.Equal(keys * 3, await MetricAsync(http, Awaiting));
            Assert.Contains("degraded", await http.GetStringAsync("health"), StringComparison.Ordinal);
        }
        finally
        {
            if (!_postgres.IsRunning) await _postgres.StartAsync();
        }

        await WaitForMetricAsync(http, Acknowledged, v => v >= keys * 6, "acknowledgement after the store is back");
        Assert.Equal(keys * 6, await MetricAsync(http, Acknowledged));
        Assert.Equal(0, await MetricAsync(http, Awaiting));
        Assert.Equal(0, await MetricAsync(http, "lstmstream_sessions_store_degraded"));
    }

    [Fact]
    public async Task Acknowledging_on_receipt_acknowledges_each_reading_once_it_is_buffered()
    {
        const int keys = 2;
        string[] settings = [.. Settings(_broker, _prefix, ClientId), $"--LstmStream:Sessions:Store={Path.Combine(_folder, "sessions.db")}",
            "--LstmStream:Sessions:Checkpoint:Interval=01:00:00", "--LstmStream:Mqtt:Acknowledge=OnReceipt"];
        await using var served = await ServedAsync(settings);
        var (client, service, http) = (served.Client, served.Service, served.Http);

        await PublishAsync(client, _prefix, keys, 1, 3);
        await WaitForOutputsAsync(client, keys * 3);

        Assert.Equal(keys * 3, await MetricAsync(http, Acknowledged));
        Assert.Equal(0, await MetricAsync(http, Awaiting));
        Assert.Contains(service.Logs, l => l.Contains("acknowledged on receipt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Acknowledging_after_the_checkpoint_without_a_store_and_a_bad_receive_maximum_stop_the_start_naming_the_keys()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningService.StartAsync(
            [.. Settings(_broker, _prefix, ClientId), "--LstmStream:Mqtt:Acknowledge=AfterCheckpoint", "--LstmStream:Mqtt:Client:ReceiveMaximum=70000"]));

        Assert.Contains("LstmStream:Mqtt:Acknowledge: AfterCheckpoint acknowledges a reading once the checkpoint covering it is written, and Sessions:Store is none",
            error.Message, StringComparison.Ordinal);
        Assert.Contains("LstmStream:Mqtt:Client:ReceiveMaximum: must be within 1..65535", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The ingress's session prepared, a subscriber to the outputs, the service started with <paramref name="settings"/>.</summary>
    private async Task<Served> ServedAsync(string[] settings)
    {
        await PrepareSessionAsync(_broker, _prefix, ClientId);
        var client = await MqttTestClient.ConnectAsync(_broker, OutputFilter(_prefix));
        var service = await RunningService.StartAsync(settings);
        return new Served(client, service, new HttpClient { BaseAddress = service.HttpBase, Timeout = ReplayTimeout });
    }

    private sealed record Served(MqttTestClient Client, RunningService Service, HttpClient Http) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Service.DisposeAsync();
            await Client.DisposeAsync();
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
