using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

public sealed class LstmPipelineTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    public LstmPipelineTests() => _materializer = Sys.Materializer();

    private async Task<List<TestOutput>> RunAsync(LstmModel model, PipelineOptions options, IEnumerable<StepBatch> fragments,
        Func<IMatMulBackend>? backends = null)
    {
        var batchIndex = 0;
        var batches = await Source.From(fragments)
            .Via(LstmPipeline.Create(model, backends ?? (() => new ManagedMatMul()), options))
            .Select(b => Drain(b, batchIndex++))
            .RunWith(Sink.Seq<List<TestOutput>>(), _materializer)
            .WaitAsync(TimeSpan.FromSeconds(60));
        return batches.SelectMany(b => b).ToList();
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Outputs_equal_the_per_key_reference_with_thousands_of_interleaved_keys(bool asyncLayers, bool lstmCellModel)
    {
        var rng = new Random(asyncLayers ? 11 : 7);
        var model = lstmCellModel
            ? RandomModel(rng, 5, [7, 6], head: null, peepholes: true, projectTopLayer: 3, cellClip: 0.8f)
            : SeedModel(3);
        await InterleavedKeysMatchReference(rng, model, asyncLayers, maxUlps: 0);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    public async Task Fused_layers_on_worker_threads_equal_the_per_key_reference_bitwise(int threads, bool asyncLayers)
    {
        // Cells of 40 and 20 take the fused step (state gathered and written back in the arena by slot); with two
        // threads, batches of up to 512 rows are split by rows and smaller ones by unit blocks. Resets and ends
        // are mixed in. One backend instance is shared by every layer, as the engine does.
        var rng = new Random(31 + threads);
        var model = RandomModel(rng, 5, [40, 20], head: null, peepholes: true, cellClip: 1.5f);
        // Rounds of 1000 keys in order (a key at most once per batch, so batches can fill), some resets and ends.
        var steps = new List<TestStep>();
        for (var round = 0; round < 4; round++)
        {
            for (var key = 0; key < 1000; key++)
            {
                var roll = rng.NextDouble();
                var flags = roll < 0.03 ? StepFlags.Reset : roll < 0.06 ? StepFlags.End : StepFlags.None;
                steps.Add(new TestStep($"k{key}", round, RandomArray(rng, model.InputSize, 1), flags, steps.Count));
            }
        }

        var options = new PipelineOptions { MaxBatchRows = 512, AsyncLayers = asyncLayers };
        using var backend = new ManagedMatMul(threads);

        var outputs = await RunAsync(model, options, Fragments(steps, model.InputSize, rng, maxRows: 700), () => backend);

        AssertMatchesReference(steps, outputs, Reference(model, steps), maxUlps: 0);
        AssertBatchesWellFormed(outputs, options.MaxBatchRows);
        var largest = outputs.GroupBy(o => o.Batch).Max(b => b.Count());
        Assert.True(largest > 400, $"largest batch {largest} rows");
    }

    [Theory]
    [InlineData(HeadActivation.Sigmoid)]
    [InlineData(HeadActivation.Tanh)]
    [InlineData(HeadActivation.Softmax)]
    public async Task Outputs_through_a_nonlinear_head_match_the_reference_to_the_last_bits(HeadActivation head)
    {
        var rng = new Random(17);
        await InterleavedKeysMatchReference(rng, SeedModel(12, head), asyncLayers: false, maxUlps: 16);
    }

    private async Task InterleavedKeysMatchReference(Random rng, LstmModel model, bool asyncLayers, int maxUlps)
    {
        var steps = InterleavedSteps(rng, keys: 3000, maxSteps: 6, width: model.InputSize);
        var options = new PipelineOptions { MaxBatchRows = 128, AsyncLayers = asyncLayers };

        var outputs = await RunAsync(model, options, Fragments(steps, model.InputSize, rng, maxRows: 40));

        AssertMatchesReference(steps, outputs, Reference(model, steps), maxUlps);
        AssertBatchesWellFormed(outputs, options.MaxBatchRows);
        Assert.All(outputs, o => Assert.Equal(model.OutputSize, o.Y.Length));
        Assert.True(outputs.Select(o => o.Batch).Distinct().Count() < steps.Count / 4, "rows were not batched");
    }

    [Fact]
    public async Task Random_resets_and_ends_follow_the_reference()
    {
        var rng = new Random(5);
        var model = SeedModel(9);
        var steps = InterleavedSteps(rng, keys: 200, maxSteps: 12, width: model.InputSize, controlRate: 0.15);
        var options = new PipelineOptions { MaxBatchRows = 16 };

        var outputs = await RunAsync(model, options, Fragments(steps, model.InputSize, rng, maxRows: 25));

        AssertMatchesReference(steps, outputs, Reference(model, steps));
        AssertBatchesWellFormed(outputs, options.MaxBatchRows);
    }

    [Fact]
    public async Task A_key_restarts_from_zero_after_end_and_after_reset()
    {
        var rng = new Random(21);
        var model = SeedModel(4);
        float[] x1 = RandomArray(rng, 6, 1), x2 = RandomArray(rng, 6, 1), x3 = RandomArray(rng, 6, 1);
        TestStep S(string key, float[] x, StepFlags flags, long tag) => new(key, tag, x, flags, tag);
        var steps = new List<TestStep>
        {
            S("a", x1, StepFlags.None, 0), S("a", x2, StepFlags.End, 1), S("a", x3, StepFlags.None, 2),
            S("b", x1, StepFlags.None, 3), S("b", x2, StepFlags.None, 4), S("b", x3, StepFlags.Reset, 5),
            S("c", x3, StepFlags.None, 6),
            S("d", x1, StepFlags.None, 7), S("d", x3, StepFlags.None, 8),
        };

        // One fragment: the batcher must split repeated keys into successive batches.
        var outputs = (await RunAsync(model, new PipelineOptions { MaxBatchRows = 64 }, [Fragment(steps, 6)]))
            .ToDictionary(o => o.Tag);

        Assert.Equal(outputs[6].Y, outputs[2].Y); // after end: as a fresh key
        Assert.Equal(outputs[6].Y, outputs[5].Y); // reset mid-sequence: as a fresh key
        Assert.Equal(outputs[0].Y, outputs[3].Y); // same first input, same output
        Assert.NotEqual(outputs[6].Y, outputs[8].Y); // state carried: x3 after x1 differs from x3 first
        Assert.True((outputs[2].Flags & StepFlags.Reset) != 0, "the first step after an end was not marked as a new key");
        AssertBatchesWellFormed(outputs.Values.ToList(), 64);
    }

    [Fact]
    public async Task Upstream_failure_fails_the_stream()
    {
        var model = SeedModel(1);
        var rng = new Random(2);
        var steps = InterleavedSteps(rng, keys: 10, maxSteps: 3, width: 6);
        var boom = new InvalidOperationException("ingress broke");
        var run = Source.From(Fragments(steps, 6, rng, 4))
            .Concat(Source.Failed<StepBatch>(boom))
            .Via(LstmPipeline.Create(model, () => new ManagedMatMul()))
            .Select(b => { b.Release(); return 0; })
            .RunWith(Sink.Ignore<int>(), _materializer);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Same(boom, error);
    }

    [Fact]
    public async Task Wrong_row_width_fails_the_stream_naming_the_key()
    {
        var model = SeedModel(1);
        var bad = StepBatch.Rent(1, 4);
        bad.Add("sensor-9", 0, StepFlags.None, 0);
        var run = Source.Single(bad)
            .Via(LstmPipeline.Create(model, () => new ManagedMatMul()))
            .RunWith(Sink.Ignore<StepBatch>(), _materializer);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("sensor-9", error.Message);
        Assert.Contains("4 floats", error.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_slow_consumer_bounds_what_is_taken_from_the_source(bool asyncLayers)
    {
        var model = SeedModel(6);
        const int maxRows = 8;
        var options = new PipelineOptions { MaxBatchRows = maxRows, AsyncLayers = asyncLayers, MaxBatchDelay = TimeSpan.FromMilliseconds(5) };
        long produced = 0;
        IEnumerable<StepBatch> Endless()
        {
            var rng = new Random(8);
            for (long i = 0; ; i++)
            {
                Interlocked.Increment(ref produced);
                yield return Fragment([new TestStep($"k{i % 1000}", i, RandomArray(rng, 6), StepFlags.None, i)], 6);
            }
        }

        var probe = Source.From(Endless())
            .Via(LstmPipeline.Create(model, () => new ManagedMatMul(), options))
            .RunWith(this.SinkProbe<StepBatch>(), _materializer);

        // Fused: each stage holds at most one batch, the batcher one open and one pending batch, plus one
        // fragment here and there; each async boundary adds its input buffer (the materializer's default of
        // 16 batches where our attribute does not reach). The endless source is pulled only on demand: after
        // every batch the consumer takes, what the source has produced beyond it is what sits in the pipeline,
        // and that must stay within the buffers. Without backpressure the source would run millions of rows ahead.
        var stages = 4 + model.Layers.Count;
        var buffered = asyncLayers ? (model.Layers.Count + 1) * Math.Max(16, options.AsyncBufferBatches) : 0;
        var bound = (stages + 2 + buffered) * maxRows + 8;
        var taken = 0L;
        for (var i = 0; i < 200; i++)
        {
            await probe.RequestAsync(1);
            taken += Drain(await probe.ExpectNextAsync(TimeSpan.FromSeconds(10)), i).Count;
            var ahead = Interlocked.Read(ref produced) - taken;
            Assert.True(ahead <= bound, $"after {i + 1} batches ({taken} rows) taken the source had produced {ahead} rows more; bound {bound}");
        }

        await probe.CancelAsync();
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    public async Task One_blueprint_materialized_several_times_at_once_gives_every_run_the_per_key_reference(bool asyncLayers, int threads)
    {
        // The runs share the blueprint's packed weights and one backend (with two threads, one worker pool that serves
        // one step at a time; a step that finds it busy runs on its own thread), and use the same key names: each run
        // must still see only its own keys' state. Cells of 40 and 20 take the fused step, whatever the vector width.
        const int runs = 4;
        var rng = new Random(43 + threads);
        var model = RandomModel(rng, 5, [40, 20], HeadActivation.Relu, peepholes: true, cellClip: 1.5f);
        var options = new PipelineOptions { MaxBatchRows = 64, AsyncLayers = asyncLayers };
        using var backend = new ManagedMatMul(threads);
        var blueprint = LstmPipeline.Create(model, ModelMatMulBackends.Uniform(model, backend), options);

        // Explicit signal, so the runs overlap: each run sends its second half only once every run has produced output.
        var everyRunStarted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        var inputs = Enumerable.Range(0, runs).Select(run =>
        {
            var runRng = new Random(100 + run);
            var steps = InterleavedSteps(runRng, keys: 400, maxSteps: 6, width: model.InputSize, controlRate: 0.05);
            return (Steps: steps, Fragments: Fragments(steps, model.InputSize, runRng, maxRows: 40));
        }).ToArray();
        var running = inputs.Select(input =>
        {
            var half = input.Fragments.Count / 2;
            var batchIndex = 0;
            return Source.From(input.Fragments.Take(half))
                .Concat(Source.FromTask(everyRunStarted.Task).SelectMany(_ => input.Fragments.Skip(half)))
                .Via(blueprint)
                .Select(b =>
                {
                    if (batchIndex == 0 && Interlocked.Increment(ref started) == runs) everyRunStarted.SetResult(true);
                    return Drain(b, batchIndex++);
                })
                .RunWith(Sink.Seq<List<TestOutput>>(), _materializer);
        }).ToArray();

        var results = await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(60));

        for (var run = 0; run < runs; run++)
        {
            var outputs = results[run].SelectMany(b => b).ToList();
            AssertMatchesReference(inputs[run].Steps, outputs, Reference(model, inputs[run].Steps), maxUlps: 0);
            AssertBatchesWellFormed(outputs, options.MaxBatchRows);
        }
    }
}
