using System.Text.Json;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary><c>serve</c> with the MQTT channel against a real mosquitto broker.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class MqttServiceTests(MosquittoBroker broker) : IClassFixture<MosquittoBroker>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Readings_from_the_broker_are_answered_on_the_output_topic_and_bad_ones_on_the_error_topic()
    {
        await using var service = await RunningService.StartAsync(
            "--LstmStream:Mqtt:Enabled=true",
            $"--LstmStream:Mqtt:Client:Host={broker.Host}",
            $"--LstmStream:Mqtt:Client:Port={broker.Port}",
            $"--LstmStream:Mqtt:Client:ClientId=serve-{Guid.NewGuid():N}");
        await using var client = await MqttTestClient.ConnectAsync(broker, "lstm/+/output", "lstm/errors");
        await WaitForSubscriptionAsync(service);

        var rng = new Random(17);
        var keys = new[] { "s1", "s2", "s3" };
        var inputs = keys.ToDictionary(k => k, _ => Enumerable.Range(0, 5).Select(_ => Enumerable.Range(0, 4).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray());
        for (var seq = 0; seq < 5; seq++)
        {
            foreach (var key in keys)
            {
                var x = string.Join(",", inputs[key][seq].Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
                await client.PublishAsync($"sensors/{key}/reading", $"{{\"seq\":{seq},\"x\":[{x}]}}");
            }

            if (seq == 2) await client.PublishAsync("sensors/s1/reading", "{\"seq\":99,\"x\":[1,2]}");
        }

        var outputs = await client.WaitForAsync(15, topic => topic.EndsWith("/output", StringComparison.Ordinal), Timeout);
        var errors = await client.WaitForAsync(1, topic => topic == "lstm/errors", Timeout);

        var model = ModelLoader.Load(RunningService.DemoModel);
        foreach (var key in keys)
        {
            var mine = outputs.Where(o => o.Topic == $"lstm/{key}/output").Select(o => JsonDocument.Parse(o.Payload).RootElement).ToList();
            Assert.Equal([0L, 1, 2, 3, 4], mine.Select(o => o.GetProperty("seq").GetInt64()));
            var reference = new StackedLstm(model, new ManagedMatMul()).Run(inputs[key].SelectMany(v => v).ToArray(), 1, 5);
            for (var t = 0; t < 5; t++)
            {
                var y = mine[t].GetProperty("y")[0].GetSingle();
                Assert.True(Math.Abs(y - reference.Outputs[t]) <= 1e-5 + 1e-5 * Math.Abs(reference.Outputs[t]), $"{key} step {t}: {y} vs {reference.Outputs[t]}");
            }
        }

        var error = JsonDocument.Parse(errors[0].Payload).RootElement;
        Assert.Equal("x", error.GetProperty("field").GetString());
        Assert.Equal("sensors/s1/reading", error.GetProperty("topic").GetString());
    }

    [Fact]
    public async Task A_bad_mqtt_setting_stops_the_start_naming_the_key()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningService.StartAsync(
            "--LstmStream:Mqtt:Enabled=true", "--LstmStream:Mqtt:Client:Qos=3"));

        Assert.Contains("LstmStream:Mqtt:Client:Qos", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The service's subscription is made in the background; readings published before it would be lost.</summary>
    private static Task WaitForSubscriptionAsync(RunningService service) => service.WaitForLogAsync("subscribed", Timeout);
}
