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
    // Read from the host's own instruments: /metrics would also show other in-process hosts' (see HostMetrics).
    private const string Acknowledged = "lstmstream.mqtt.acknowledged";
    private const string Awaiting = "lstmstream.mqtt.awaiting_acknowledgement";
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

    [Fact]
    public async Task Readings_wait_for_a_written_checkpoint_and_a_graceful_stop_acknowledges_what_its_final_checkpoint_stored()
    {
        const int keys = 3;
        // No checkpoint but the drain's: the interval is an hour.
        string[] settings = [.. Settings(_broker, _prefix, ClientId), $"--LstmStream:Sessions:Store={Path.Combine(_folder, "sessions.db")}",
            "--LstmStream:Sessions:Checkpoint:Interval=01:00:00"];
        await PrepareSessionAsync(_broker, _prefix, ClientId);
        await using var client = await MqttTestClient.ConnectAsync(_broker, OutputFilter(_prefix));
        string firstLog;
        await using (var service = await RunningService.StartAsync(settings))
        {
            await PublishAsync(client, _prefix, keys, 1, 4);
            // A QoS 0 reading among them keeps its place too (nothing to acknowledge, but its output is its own).
            await client.PublishAsync(ReadingTopic(_prefix, 0), Payload(0, 5), MqttQualityOfServiceLevel.AtMostOnce);
            await client.PublishAsync(ReadingTopic(_prefix, 0), Payload(0, 6));
            await WaitForOutputsAsync(client, keys * 4 + 2);

            Assert.Equal(0, service.Metrics.Read(Acknowledged));
            Assert.Equal(keys * 4 + 2, service.Metrics.Read(Awaiting));
            Assert.Equal(0, await service.StopAsync());
            Assert.Contains(service.Logs, l => l.Contains("Final checkpoint", StringComparison.Ordinal));
            firstLog = string.Join("\n", service.Logs);
        }

        // A new process on the same session: had the readings not been acknowledged, the broker would deliver them again
        // before the reading published now, and they would be received (and answered as duplicates) before it.
        await using (var service = await RunningService.StartAsync(settings))
        {
            await PublishAsync(client, _prefix, keys: 1, 7, 7);
            await WaitForOutputsAsync(client, keys * 4 + 3);

            var received = service.Metrics.Read("lstmstream.records.received");
            Assert.True(received == 1, $"{received} readings received after the restart; log of the first service:\n{firstLog}");
            Assert.Equal(0, service.Metrics.Read("lstmstream.sessions.duplicates"));
            Assert.Equal(1, service.Metrics.Read(Awaiting));
        }

        var outputs = Outputs(client);
        Assert.Equal(keys * 4 + 3, outputs.Count);
        Assert.DoesNotContain(outputs, o => o.IsDuplicate);
    }

    [Fact]
    public async Task While_PostgreSQL_is_down_nothing_more_is_acknowledged_and_acknowledgement_resumes_once_it_is_back()
    {
        const int keys = 4;
        string[] settings = [.. Settings(_broker, _prefix, ClientId), $"--LstmStream:Sessions:Store={await _postgres.CreateDatabaseAsync()}",
            "--LstmStream:Sessions:Buckets=8", "--LstmStream:Sessions:Checkpoint:Interval=00:00:00.3", "--LstmStream:Sessions:Checkpoint:MaxRetryDelay=00:00:01"];
        await using var served = await ServedAsync(settings);
        var (client, service, http) = (served.Client, served.Service, served.Http);

        await PublishAsync(client, _prefix, keys, 1, 3);
        await WaitForOutputsAsync(client, keys * 3);
        await service.Metrics.WaitForAsync(Acknowledged, v => v >= keys * 3, "the first readings' checkpoint", ReplayTimeout);

        try
        {
            await _postgres.StopAsync();
            await PublishAsync(client, _prefix, keys, 4, 6);
            // Serving goes on while the store is down.
            await WaitForOutputsAsync(client, keys * 6);
            // Two more failed checkpoints: the second began after every output above was delivered, so it would have covered them.
            var failures = service.Metrics.Read("lstmstream.sessions.checkpoint.failures") ?? 0;
            await service.Metrics.WaitForAsync("lstmstream.sessions.checkpoint.failures", v => v >= failures + 2, "failed checkpoints", ReplayTimeout);

            Assert.Equal(keys * 3, service.Metrics.Read(Acknowledged));
            Assert.Equal(keys * 3, service.Metrics.Read(Awaiting));
            Assert.Contains("degraded", await http.GetStringAsync("health"), StringComparison.Ordinal);
        }
        finally
        {
            if (!_postgres.IsRunning) await _postgres.StartAsync();
        }

        await service.Metrics.WaitForAsync(Acknowledged, v => v >= keys * 6, "acknowledgement after the store is back", ReplayTimeout);
        Assert.Equal(keys * 6, service.Metrics.Read(Acknowledged));
        Assert.Equal(0, service.Metrics.Read(Awaiting));
        Assert.Equal(0, service.Metrics.Read("lstmstream.sessions.store.degraded"));
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

        Assert.Equal(keys * 3, service.Metrics.Read(Acknowledged));
        Assert.Equal(0, service.Metrics.Read(Awaiting));
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
