using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Akka.TestKit;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

/// <summary>A materialized <see cref="LstmPipeline"/> between a test publisher and a test subscriber.</summary>
internal sealed record RunningPipeline(TestPublisher.Probe<StepBatch> Source, LstmPipelineHandle Handle, TestSubscriber.Probe<StepBatch> Sink)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private int _batches;

    /// <summary>Runs <paramref name="model"/> on managed backends with <paramref name="options"/>.</summary>
    public static RunningPipeline Start(TestKitBase kit, IMaterializer materializer, LstmModel model, PipelineOptions options)
    {
        var ((source, handle), sink) = kit.SourceProbe<StepBatch>()
            .ViaMaterialized(LstmPipeline.Create(model, () => new ManagedMatMul(), options), Keep.Both)
            .ToMaterialized(kit.SinkProbe<StepBatch>(), Keep.Both)
            .Run(materializer);
        return new RunningPipeline(source, handle, sink);
    }

    /// <summary>Sends the fragments and collects outputs until <paramref name="rows"/> rows have come out.</summary>
    public async Task<List<TestOutput>> SendAndCollectAsync(IEnumerable<StepBatch> fragments, int rows)
    {
        var sending = Task.Run(async () =>
        {
            foreach (var f in fragments) await Source.SendNextAsync(f);
        });
        var outputs = await CollectAsync(rows);
        await sending.WaitAsync(Wait);
        return outputs;
    }

    /// <summary>Collects outputs until <paramref name="rows"/> rows have come out.</summary>
    public async Task<List<TestOutput>> CollectAsync(int rows)
    {
        var outputs = new List<TestOutput>();
        while (outputs.Count < rows) outputs.AddRange(Drain(await Sink.RequestNextAsync(Wait), _batches++));
        return outputs;
    }

    /// <summary>Completes the input and waits for the stream to complete.</summary>
    public async Task CompleteAsync()
    {
        await Source.SendCompleteAsync();
        await Sink.RequestAsync(1);
        await Sink.ExpectCompleteAsync();
    }
}
