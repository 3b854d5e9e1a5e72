using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka;
using Akka.Streams;
using LstmStream.Hosting.Channels.Mqtt;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Streaming;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>One output record as published: key, seq and y.</summary>
internal sealed record PublishedOutput(string Key, long Seq, float[] Y);

/// <summary>
/// The chain under test: <see cref="MqttRecordIngress"/> → <see cref="LstmPipeline"/> → <see cref="MqttOutputPublisher"/>,
/// on topics under a prefix of its own so tests sharing a broker do not see each other's messages.
/// </summary>
internal sealed class MqttChain : IAsyncDisposable
{
    private MqttChain(MqttClientSettings options, MqttRecordIngress ingress, MqttOutputPublisher publisher, Task<Done> completion)
    {
        Options = options;
        Ingress = ingress;
        Publisher = publisher;
        Completion = completion;
    }

    public MqttClientSettings Options { get; }
    public MqttRecordIngress Ingress { get; }
    public MqttOutputPublisher Publisher { get; }
    public Task<Done> Completion { get; }

    public static MqttClientSettings OptionsFor(MosquittoBroker broker, string prefix) => new()
    {
        Host = broker.Host,
        Port = broker.Port,
        ClientId = $"lstm-{prefix}",
        TopicFilter = $"{prefix}/sensors/+/reading",
        OutputTopicTemplate = $"{prefix}/lstm/{{key}}/output",
        ErrorTopic = $"{prefix}/lstm/errors",
        ReconnectDelay = TimeSpan.FromMilliseconds(200),
    };

    public static async Task<MqttChain> StartAsync(MqttClientSettings options, LstmModel model, IMaterializer materializer, ListLogger logger,
        LimitsSettings? limits = null)
    {
        var ingress = new MqttRecordIngress(options, model.InputSize, logger, limits);
        var publisher = new MqttOutputPublisher(options, logger);
        ingress.Start();
        publisher.Start();
        await ingress.WaitConnectedAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        await publisher.WaitConnectedAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        var completion = ingress.Source
            .Via(LstmPipeline.Create(model, () => new ManagedMatMul(), new PipelineOptions { MaxBatchRows = 8 }))
            .RunWith(publisher.Sink(), materializer);
        return new MqttChain(options, ingress, publisher, completion);
    }

    public string ReadingTopic(string key) => Options.TopicFilter.Replace("+", key, StringComparison.Ordinal);

    public static string Reading(TestStep step)
    {
        var text = new StringBuilder();
        text.Append("{\"seq\":").Append(step.Seq.ToString(CultureInfo.InvariantCulture)).Append(",\"x\":[");
        text.AppendJoin(',', step.X.Select(v => v.ToString(CultureInfo.InvariantCulture))).Append(']');
        if ((step.Flags & StepFlags.Reset) != 0) text.Append(",\"reset\":true");
        if ((step.Flags & StepFlags.End) != 0) text.Append(",\"end\":true");
        return text.Append('}').ToString();
    }

    public static PublishedOutput ParseOutput(string payload)
    {
        using var json = JsonDocument.Parse(payload);
        var root = json.RootElement;
        return new PublishedOutput(root.GetProperty("key").GetString()!, root.GetProperty("seq").GetInt64(),
            root.GetProperty("y").EnumerateArray().Select(v => v.GetSingle()).ToArray());
    }

    /// <summary>
    /// Checks the outputs (in arrival order) against the per-key reference: each step's output exactly once,
    /// per key in input order, values bit for bit.
    /// </summary>
    public static void AssertMatchesReference(LstmModel model, IReadOnlyList<TestStep> steps, IReadOnlyList<PublishedOutput> outputs)
    {
        var expected = StreamingTestData.Reference(model, steps);
        var tagOf = steps.ToDictionary(s => (s.Key, s.Seq), s => s.Tag);
        Assert.Equal(steps.Count, outputs.Count);
        foreach (var key in steps.Select(s => s.Key).Distinct())
            Assert.Equal(steps.Where(s => s.Key == key).Select(s => s.Seq), outputs.Where(o => o.Key == key).Select(o => o.Seq));
        foreach (var o in outputs)
        {
            var want = expected[tagOf[(o.Key, o.Seq)]];
            Assert.True(want.AsSpan().SequenceEqual(o.Y),
                $"output of key '{o.Key}' seq {o.Seq}: got [{string.Join(", ", o.Y)}], expected [{string.Join(", ", want)}]");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Ingress.CompleteAsync();
        await Completion.WaitAsync(TimeSpan.FromSeconds(20));
        await Publisher.DisposeAsync();
        await Ingress.DisposeAsync();
    }
}
