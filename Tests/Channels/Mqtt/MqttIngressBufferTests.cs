using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Hosting.Channels.Mqtt;
using LstmStream.Tests.Support;
using MQTTnet.Protocol;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>The ingress buffer is bounded: QoS 1 readings wait (backpressure), QoS 0 readings beyond it are dropped.</summary>
public sealed class MqttIngressBufferTests : Akka.TestKit.Xunit2.TestKit, IClassFixture<MosquittoBroker>
{
    private const int Buffer = 4;
    private const int Readings = 30;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly MosquittoBroker _broker;

    public MqttIngressBufferTests(MosquittoBroker broker) => _broker = broker;

    private async Task<(MqttRecordIngress Ingress, MqttTestClient Client)> StartAsync(int qos)
    {
        var prefix = $"b{Guid.NewGuid():N}"[..13];
        var options = MqttChain.OptionsFor(_broker, prefix) with { IngressBuffer = Buffer, Qos = qos };
        var ingress = new MqttRecordIngress(options, 2, new ListLogger());
        ingress.Start();
        await ingress.WaitConnectedAsync(CancellationToken.None).WaitAsync(Wait);
        var client = await MqttTestClient.ConnectAsync(_broker);
        for (var i = 0; i < Readings; i++)
            await client.PublishAsync($"{prefix}/sensors/k{i % 3}/reading", $$"""{"seq":{{i}},"x":[{{i}},1]}""", (MqttQualityOfServiceLevel)qos);
        return (ingress, client);
    }

    private async Task<List<(string Key, long Seq, long Tag, float X)>> TakeAsync(MqttRecordIngress ingress, int count) =>
        (await ingress.Source
            .Select(b =>
            {
                var row = (b.Keys[0], b.Seq[0], b.Tags[0], b.Row(0)[0]);
                b.Release();
                return row;
            })
            .Take(count)
            .RunWith(Sink.Seq<(string, long, long, float)>(), Sys.Materializer())
            .WaitAsync(Wait)).ToList();

    [Fact]
    public async Task Qos1_readings_wait_while_the_buffer_is_full_and_all_arrive_in_order_once_taken()
    {
        var started = await StartAsync(qos: 1);
        await using var ingress = started.Ingress;
        await using var client = started.Client;

        // MQTTnet hands over one message at a time: the reading after a full buffer has arrived and waits for room.
        var deadline = DateTime.UtcNow + Wait;
        while (ingress.Received < Buffer + 1 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(Buffer + 1, ingress.Received);
        Assert.Equal(Buffer, ingress.Accepted); // nothing taken yet: the ingress holds back, no reading is lost
        Assert.Equal(0, ingress.Dropped);

        var rows = await TakeAsync(ingress, Readings);
        Assert.Equal(Enumerable.Range(0, Readings).Select(i => ((long)i, (long)(i + 1), (float)i)), rows.Select(r => (r.Seq, r.Tag, r.X)));
        Assert.Equal(Enumerable.Range(0, Readings).Select(i => $"k{i % 3}"), rows.Select(r => r.Key));
    }

    [Fact]
    public async Task Qos0_readings_beyond_a_full_buffer_are_dropped_and_counted()
    {
        var started = await StartAsync(qos: 0);
        await using var ingress = started.Ingress;
        await using var client = started.Client;

        var deadline = DateTime.UtcNow + Wait;
        while (ingress.Received < Readings && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(Readings, ingress.Received);
        Assert.Equal(Buffer, ingress.Accepted);
        Assert.Equal(Readings - Buffer, ingress.Dropped);

        var rows = await TakeAsync(ingress, Buffer);
        Assert.Equal([0L, 1, 2, 3], rows.Select(r => r.Seq));
    }
}
