using System.Text.Json;
using Akka.Streams;
using LstmStream.Hosting.Channels.Mqtt;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Streaming;
using LstmStream.Tests.Support;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>Readings through a real mosquitto broker → ingress → pipeline → publisher → broker, checked per key.</summary>
public sealed class MqttChannelTests : Akka.TestKit.Xunit2.TestKit, IClassFixture<MosquittoBroker>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly MosquittoBroker _broker;
    private readonly IMaterializer _materializer;
    private readonly ListLogger _logger = new();

    public MqttChannelTests(MosquittoBroker broker)
    {
        _broker = broker;
        _materializer = Sys.Materializer();
    }

    private static LstmModel Model() => RandomModel.Create(3, [5, 4], headOutputs: 2, seed: 42);

    private static string NewPrefix() => $"t{Guid.NewGuid():N}"[..13];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Readings_of_several_keys_come_out_per_key_in_order_with_the_reference_values(int qos)
    {
        var model = Model();
        var prefix = NewPrefix();
        var options = MqttChain.OptionsFor(_broker, prefix) with { Qos = qos };
        var steps = StreamingTestData.InterleavedSteps(new Random(3), keys: 6, maxSteps: 12, width: model.InputSize, controlRate: 0.1);
        await using var chain = await MqttChain.StartAsync(options, model, _materializer, _logger);
        await using var client = await MqttTestClient.ConnectAsync(_broker, $"{prefix}/lstm/+/output");

        foreach (var step in steps) await client.PublishAsync(chain.ReadingTopic(step.Key), MqttChain.Reading(step), (MqttQualityOfServiceLevel)qos);

        var received = await client.WaitForAsync(steps.Count, _ => true, Wait);
        var outputs = received.Select(m => MqttChain.ParseOutput(m.Payload)).ToList();
        Assert.All(received.Zip(outputs), p => Assert.Equal($"{prefix}/lstm/{p.Second.Key}/output", p.First.Topic));
        MqttChain.AssertMatchesReference(model, steps, outputs);
        Assert.Equal(steps.Count, chain.Ingress.Accepted);
        Assert.Equal(0, chain.Ingress.Rejected);
        Assert.Equal(steps.Count, chain.Publisher.Published);
    }

    [Fact]
    public async Task Bad_payloads_go_to_the_error_topic_and_the_log_while_good_readings_go_on()
    {
        var model = Model();
        var prefix = NewPrefix();
        var options = MqttChain.OptionsFor(_broker, prefix);
        await using var chain = await MqttChain.StartAsync(options, model, _materializer, _logger);
        await using var client = await MqttTestClient.ConnectAsync(_broker, $"{prefix}/lstm/+/output", options.ErrorTopic);

        var rng = new Random(8);
        var tags = 0;
        TestStep Good(string key, long seq) => new(key, seq, StreamingTestData.RandomArray(rng, 3), StepFlags.HasSeq, tags++);
        var good = new List<TestStep> { Good("a", 0), Good("b", 0), Good("a", 1), Good("b", 1), Good("a", 2) };
        // (message, key, field, reason fragment) of each bad one, in the order sent; the record numbers follow the send order.
        var bad = new List<(string Topic, string Payload, string? Key, string? Field, string Reason)>
        {
            (chain.ReadingTopic("a"), "not json", "a", null, "not valid JSON"),
            (chain.ReadingTopic("b"), """{"seq":5,"x":[1,2]}""", "b", "x", "has 2 values, the model's input size is 3"),
            (chain.ReadingTopic("a"), """{"seq":"five","x":[1,2,3]}""", "a", "seq", "must be an integer"),
            (chain.ReadingTopic("b"), """{"key":"c","seq":6,"x":[1,2,3]}""", "b", "key", "the record's source gives the key 'b'"),
            (chain.ReadingTopic("a"), "", "a", null, "empty payload"),
            (chain.ReadingTopic(""), """{"seq":1,"x":[1,2,3]}""", null, "key", "must not be empty"),
        };

        var sent = new List<string>(); // topic of every message in send order (record number = index + 1)
        for (var i = 0; i < good.Count; i++)
        {
            await client.PublishAsync(chain.ReadingTopic(good[i].Key), MqttChain.Reading(good[i]));
            sent.Add("good");
            if (i < bad.Count)
            {
                await client.PublishAsync(bad[i].Topic, bad[i].Payload);
                sent.Add($"bad{i}");
            }
        }

        for (var i = good.Count; i < bad.Count; i++)
        {
            await client.PublishAsync(bad[i].Topic, bad[i].Payload);
            sent.Add($"bad{i}");
        }

        var errors = await client.WaitForAsync(bad.Count, t => t == options.ErrorTopic, Wait);
        var outputs = await client.WaitForAsync(good.Count, t => t != options.ErrorTopic, Wait);
        MqttChain.AssertMatchesReference(model, good, outputs.Select(m => MqttChain.ParseOutput(m.Payload)).ToList());

        Assert.Equal(bad.Count, errors.Count);
        for (var i = 0; i < bad.Count; i++)
        {
            using var json = JsonDocument.Parse(errors[i].Payload);
            var error = json.RootElement;
            Assert.Contains(bad[i].Reason, error.GetProperty("error").GetString());
            Assert.Equal(sent.IndexOf($"bad{i}") + 1, error.GetProperty("line").GetInt64());
            Assert.Equal(bad[i].Topic, error.GetProperty("topic").GetString());
            Assert.Equal(bad[i].Key, error.TryGetProperty("key", out var key) ? key.GetString() : null);
            Assert.Equal(bad[i].Field, error.TryGetProperty("field", out var field) ? field.GetString() : null);
        }

        Assert.Equal(bad.Count, chain.Ingress.Rejected);
        Assert.Equal(good.Count, chain.Ingress.Accepted);
        var warnings = _logger.Lines.Where(l => l.Level == LogLevel.Warning && l.Message.Contains("rejected")).ToList();
        Assert.Equal(bad.Count, warnings.Count);
        Assert.Contains(warnings, w => w.Message.Contains(chain.ReadingTopic("b")) && w.Message.Contains("field 'x'"));
    }

    [Fact]
    public async Task A_payload_or_key_over_the_limits_is_answered_on_the_error_topic_naming_topic_key_and_limit()
    {
        var model = Model();
        var prefix = NewPrefix();
        var options = MqttChain.OptionsFor(_broker, prefix);
        await using var chain = await MqttChain.StartAsync(options, model, _materializer, _logger, new LimitsSettings { MaxLineBytes = 100, MaxKeyBytes = 8 });
        await using var client = await MqttTestClient.ConnectAsync(_broker, $"{prefix}/lstm/+/output", options.ErrorTopic);
        var good = new TestStep("eight-by", 0, [1, 2, 3], StepFlags.HasSeq, 0);
        var oversized = $"{{\"seq\":1,\"x\":[1,2,3],\"pad\":\"{new string('p', 200)}\"}}";

        await client.PublishAsync(chain.ReadingTopic("big"), oversized);
        await client.PublishAsync(chain.ReadingTopic("nine-byte"), MqttChain.Reading(good));
        await client.PublishAsync(chain.ReadingTopic(good.Key), MqttChain.Reading(good));

        var errors = await client.WaitForAsync(2, t => t == options.ErrorTopic, Wait);
        var outputs = await client.WaitForAsync(1, t => t != options.ErrorTopic, Wait);
        MqttChain.AssertMatchesReference(model, [good], outputs.Select(m => MqttChain.ParseOutput(m.Payload)).ToList());
        using (var json = JsonDocument.Parse(errors[0].Payload))
        {
            var error = json.RootElement;
            Assert.Equal($"payload is {oversized.Length} bytes, more than the 100 bytes a record may have (Limits:MaxLineBytes)", error.GetProperty("error").GetString());
            Assert.Equal("big", error.GetProperty("key").GetString());
            Assert.Equal(chain.ReadingTopic("big"), error.GetProperty("topic").GetString());
        }

        using (var json = JsonDocument.Parse(errors[1].Payload))
        {
            var error = json.RootElement;
            Assert.Equal("key", error.GetProperty("field").GetString());
            Assert.Contains("more than the 8 bytes a key may have", error.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Equal(chain.ReadingTopic("nine-byte"), error.GetProperty("topic").GetString());
        }

        Assert.Equal(2, chain.Ingress.Rejected);
    }

    [Fact]
    public async Task Defaults_subscribe_to_sensors_readings_and_publish_to_lstm_outputs()
    {
        var model = Model();
        var options = new MqttClientSettings { Host = _broker.Host, Port = _broker.Port, ClientId = $"lstm-{NewPrefix()}" };
        var steps = StreamingTestData.InterleavedSteps(new Random(4), keys: 2, maxSteps: 3, width: model.InputSize)
            .Select(s => s with { Key = $"{options.ClientId}-{s.Key}" }).ToList();
        await using var chain = await MqttChain.StartAsync(options, model, _materializer, _logger);
        await using var client = await MqttTestClient.ConnectAsync(_broker, "lstm/+/output");

        foreach (var step in steps) await client.PublishAsync($"sensors/{step.Key}/reading", MqttChain.Reading(step));

        var received = await client.WaitForAsync(steps.Count, t => t.StartsWith($"lstm/{options.ClientId}-"), Wait);
        Assert.All(received, m => Assert.Equal($"lstm/{MqttChain.ParseOutput(m.Payload).Key}/output", m.Topic));
        MqttChain.AssertMatchesReference(model, steps, received.Select(m => MqttChain.ParseOutput(m.Payload)).ToList());
    }

    [Fact]
    public async Task Completing_the_ingress_delivers_every_accepted_reading_and_completes_the_stream()
    {
        var model = Model();
        var prefix = NewPrefix();
        var options = MqttChain.OptionsFor(_broker, prefix);
        var steps = StreamingTestData.InterleavedSteps(new Random(5), keys: 4, maxSteps: 20, width: model.InputSize);
        var chain = await MqttChain.StartAsync(options, model, _materializer, _logger);
        await using var client = await MqttTestClient.ConnectAsync(_broker, $"{prefix}/lstm/+/output");
        foreach (var step in steps) await client.PublishAsync(chain.ReadingTopic(step.Key), MqttChain.Reading(step));
        while (chain.Ingress.Accepted < steps.Count) await Task.Delay(10);

        await chain.Ingress.CompleteAsync();
        await chain.Completion.WaitAsync(Wait);

        var received = await client.WaitForAsync(steps.Count, _ => true, Wait);
        MqttChain.AssertMatchesReference(model, steps, received.Select(m => MqttChain.ParseOutput(m.Payload)).ToList());
        await chain.DisposeAsync();
    }
    [Fact]
    public async Task The_publisher_skips_keys_that_cannot_be_a_topic_level_and_leaves_the_batch_to_its_owner()
    {
        var prefix = NewPrefix();
        var options = MqttChain.OptionsFor(_broker, prefix);
        await using var publisher = new MqttOutputPublisher(options, _logger);
        publisher.Start();
        await publisher.WaitConnectedAsync(CancellationToken.None).WaitAsync(Wait);
        await using var client = await MqttTestClient.ConnectAsync(_broker, $"{prefix}/lstm/#");
        var batch = StepBatch.Rent(4, 2);
        try
        {
            string[] keys = ["a", "b/c", "d#", "e"];
            for (var r = 0; r < keys.Length; r++)
            {
                batch.Add(keys[r], 10 + r, r == 3 ? StepFlags.None : StepFlags.HasSeq, r);
                batch.Row(r)[0] = r + 0.25f;
                batch.Row(r)[1] = -(float)r;
            }

            await publisher.PublishBatchAsync(batch, CancellationToken.None);
            await publisher.PublishAsync(batch, 0, CancellationToken.None);
            Assert.Equal(4, batch.Count); // still the caller's

            var received = await client.WaitForAsync(3, _ => true, Wait);
            // The publisher's own counts prove that the skipped keys never went out.
            Assert.Equal(2, publisher.Skipped);
            Assert.Equal(3, publisher.Published);
            Assert.Equal(
                [($"{prefix}/lstm/a/output", """{"key":"a","seq":10,"y":[0.25,-0]}"""),
                 ($"{prefix}/lstm/a/output", """{"key":"a","seq":10,"y":[0.25,-0]}""")],
                received.Where(m => m.Topic.Contains("/a/")).ToList());
            Assert.Contains(($"{prefix}/lstm/e/output", """{"key":"e","y":[3.25,-3]}"""), received);
            Assert.Contains(_logger.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("'b/c'"));
        }
        finally
        {
            batch.Release();
        }
    }
}
