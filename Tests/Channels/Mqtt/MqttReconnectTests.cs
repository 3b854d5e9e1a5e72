using Akka.Streams;
using LstmStream.Pipeline.Models;
using LstmStream.Tests.Streaming;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>The channels survive a broker restart: they reconnect, subscribe again and go on where they were.</summary>
public sealed class MqttReconnectTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task After_a_broker_restart_readings_go_on_with_each_key_state_kept()
    {
        await using var broker = new BrokerLifetime();
        await broker.Broker.InitializeAsync();
        var model = RandomModel.Create(4, [6], headOutputs: 3, seed: 9);
        var prefix = $"r{Guid.NewGuid():N}"[..13];
        var steps = StreamingTestData.InterleavedSteps(new Random(12), keys: 5, maxSteps: 10, width: model.InputSize);
        var cut = steps.Count / 2;
        var logger = new ListLogger();
        await using var chain = await MqttChain.StartAsync(MqttChain.OptionsFor(broker.Broker, prefix), model, Sys.Materializer(), logger);

        var before = new List<PublishedOutput>();
        await using (var client = await MqttTestClient.ConnectAsync(broker.Broker, $"{prefix}/lstm/+/output"))
        {
            foreach (var step in steps.Take(cut)) await client.PublishAsync(chain.ReadingTopic(step.Key), MqttChain.Reading(step));
            before.AddRange((await client.WaitForAsync(cut, _ => true, Wait)).Select(m => MqttChain.ParseOutput(m.Payload)));
        }

        await broker.Broker.StopAsync();
        await broker.Broker.StartAsync();
        var deadline = DateTime.UtcNow + Wait;
        while (chain.Ingress.Connects < 2 || chain.Publisher.Connects < 2)
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"no reconnect within {Wait}: ingress connected {chain.Ingress.Connects}×, publisher {chain.Publisher.Connects}×");
            await Task.Delay(50);
        }

        await chain.Ingress.WaitConnectedAsync(CancellationToken.None).WaitAsync(Wait);
        await chain.Publisher.WaitConnectedAsync(CancellationToken.None).WaitAsync(Wait);
        await using (var client = await MqttTestClient.ConnectAsync(broker.Broker, $"{prefix}/lstm/+/output"))
        {
            foreach (var step in steps.Skip(cut)) await client.PublishAsync(chain.ReadingTopic(step.Key), MqttChain.Reading(step));
            var after = (await client.WaitForAsync(steps.Count - cut, _ => true, Wait)).Select(m => MqttChain.ParseOutput(m.Payload));
            MqttChain.AssertMatchesReference(model, steps, before.Concat(after).ToList());
        }

        Assert.Contains(logger.Lines, l => l.Message.Contains("lost; reconnecting"));
    }

    /// <summary>A broker of the test's own (it is restarted, so it cannot be shared).</summary>
    private sealed class BrokerLifetime : IAsyncDisposable
    {
        public MosquittoBroker Broker { get; } = new();

        public async ValueTask DisposeAsync() => await Broker.DisposeAsync();
    }
}
