using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using LstmStream.Hosting.Channels.Mqtt;
using LstmStream.Hosting.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>A plain MQTT client for the tests: publishes readings, collects what arrives on its subscriptions.</summary>
internal sealed class MqttTestClient : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly ConcurrentQueue<(string Topic, string Payload)> _received = new();

    private MqttTestClient(IMqttClient client)
    {
        _client = client;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            _received.Enqueue((e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload.ToArray())));
            return Task.CompletedTask;
        };
    }

    public static Task<MqttTestClient> ConnectAsync(MosquittoBroker broker, params string[] subscriptions) =>
        ConnectAsync(broker, null, subscriptions);

    /// <param name="security">TLS and credentials (as the service's settings give them), or null for a plain connection.</param>
    public static async Task<MqttTestClient> ConnectAsync(MosquittoBroker broker, MqttClientSettings? security, params string[] subscriptions)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var test = new MqttTestClient(client);
        var builder = security is null ? new MqttClientOptionsBuilder() : MqttTransportSecurity.Apply(new MqttClientOptionsBuilder(), security);
        var options = builder
            .WithTcpServer(broker.Host, broker.Port)
            .WithClientId($"test-{Guid.NewGuid():N}")
            .WithCleanSession()
            .Build();
        await client.ConnectAsync(options);
        foreach (var filter in subscriptions)
            await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
        return test;
    }

    public IReadOnlyList<(string Topic, string Payload)> Received => _received.ToArray();

    public Task PublishAsync(string topic, string payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) =>
        _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build());

    /// <summary>Waits until at least <paramref name="count"/> messages matching <paramref name="where"/> arrived.</summary>
    public async Task<List<(string Topic, string Payload)>> WaitForAsync(int count, Func<string, bool> where, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var matching = _received.Where(m => where(m.Topic)).ToList();
            if (matching.Count >= count) return matching;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"got {matching.Count} of {count} expected messages within {timeout}: " +
                                           string.Join(" | ", matching.Take(5).Select(m => $"{m.Topic} {m.Payload}")));
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected) await _client.DisconnectAsync();
        _client.Dispose();
    }
}
