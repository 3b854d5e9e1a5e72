using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Akka.TestKit;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

/// <summary>
/// Demand-driven batching (the default, no batch delay) on TestKit's fake clock (<see cref="TestScheduler"/>), which
/// these tests never advance: whatever goes out, goes out without any timer firing.
/// </summary>
public sealed class MicroBatcherDemandTests : Akka.TestKit.Xunit2.TestKit
{
    private const int Width = 3;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly IMaterializer _materializer;

    public MicroBatcherDemandTests() : base("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"") =>
        _materializer = Sys.Materializer();

    private static StepBatch Fragment(params string[] keys) =>
        StreamingTestData.Fragment(keys.Select((k, i) => new TestStep(k, i, [i, i, i], StepFlags.None, i)), Width);

    private static string Keys(StepBatch batch) => string.Join(",", Drain(batch, 0).Select(o => o.Key));

    private (TestPublisher.Probe<StepBatch> Source, TestSubscriber.Probe<StepBatch> Sink) Materialize(int maxRows) =>
        this.SourceProbe<StepBatch>()
            .Via(new MicroBatcher(maxRows, TimeSpan.Zero, Width))
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);

    [Fact]
    public async Task A_lone_record_goes_out_at_once_without_any_timer_firing()
    {
        var (source, sink) = Materialize(maxRows: 256);

        await sink.RequestAsync(1);
        await source.SendNextAsync(Fragment("a"));
        Assert.Equal("a", Keys(await sink.ExpectNextAsync(Timeout)));

        // The stream stays open (no completion flushes it): the next lone record goes the same way.
        await sink.RequestAsync(1);
        await source.SendNextAsync(Fragment("b"));
        Assert.Equal("b", Keys(await sink.ExpectNextAsync(Timeout)));
        await source.SendCompleteAsync();
        await sink.ExpectCompleteAsync();
    }

    [Fact]
    public async Task Rows_that_arrive_while_the_next_stage_is_busy_go_out_together_when_it_pulls()
    {
        var (source, sink) = Materialize(maxRows: 256);

        await sink.RequestAsync(1);
        await source.SendNextAsync(Fragment("a"));
        Assert.Equal("a", Keys(await sink.ExpectNextAsync(Timeout)));

        // No demand: the next stage is still busy with "a". What arrives meanwhile is one batch when it pulls.
        await source.SendNextAsync(Fragment("b"));
        await source.SendNextAsync(Fragment("c", "d"));
        await source.SendNextAsync(Fragment("e"));
        await sink.RequestAsync(1);
        Assert.Equal("b,c,d,e", Keys(await sink.ExpectNextAsync(Timeout)));
        await source.SendCompleteAsync();
        await sink.ExpectCompleteAsync();
    }

    [Fact]
    public async Task A_busy_next_stage_gets_batches_filled_up_to_MaxRows()
    {
        var (source, sink) = Materialize(maxRows: 4);

        // Ten single-record fragments while the next stage takes nothing (the source's messages reach the stage
        // before the demand below does).
        for (var i = 0; i < 10; i++) await source.SendNextAsync(Fragment($"k{i}"));
        await sink.RequestAsync(3);
        Assert.Equal("k0,k1,k2,k3", Keys(await sink.ExpectNextAsync(Timeout)));
        Assert.Equal("k4,k5,k6,k7", Keys(await sink.ExpectNextAsync(Timeout)));
        Assert.Equal("k8,k9", Keys(await sink.ExpectNextAsync(Timeout)));
        await source.SendCompleteAsync();
        await sink.ExpectCompleteAsync();
    }

    [Fact]
    public async Task A_repeated_key_still_opens_a_new_batch_on_demand()
    {
        var (source, sink) = Materialize(maxRows: 256);

        await source.SendNextAsync(Fragment("a", "b", "a", "c"));
        await sink.RequestAsync(2);
        Assert.Equal("a,b", Keys(await sink.ExpectNextAsync(Timeout)));
        Assert.Equal("a,c", Keys(await sink.ExpectNextAsync(Timeout)));
        await source.SendCompleteAsync();
        await sink.ExpectCompleteAsync();
    }

    [Fact]
    public async Task A_lone_record_is_stepped_through_the_whole_pipeline_without_any_timer_firing()
    {
        var model = SeedModel(3);
        var (source, sink) = this.SourceProbe<StepBatch>()
            .Via(LstmPipeline.Create(model, () => new ManagedMatMul(), new PipelineOptions()))
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);

        await sink.RequestAsync(2);
        for (var seq = 0; seq < 2; seq++)
        {
            await source.SendNextAsync(StreamingTestData.Fragment([new TestStep("sensor-1", seq, new float[model.InputSize], StepFlags.HasSeq, seq)], model.InputSize));
            var output = Drain(await sink.ExpectNextAsync(Timeout), seq);
            Assert.Equal([("sensor-1", (long)seq)], output.Select(o => (o.Key, o.Seq)));
        }

        await source.SendCompleteAsync();
        await sink.ExpectCompleteAsync();
    }
}
