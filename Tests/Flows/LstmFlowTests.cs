using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Flows;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Streaming;
using LstmStream.Tests.Support;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Flows;

public sealed class LstmFlowTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    public LstmFlowTests() => _materializer = Sys.Materializer();

    /// <summary>An engine of <paramref name="model"/> on the managed backend (micro-batches of 64 rows unless <paramref name="pipeline"/> says otherwise).</summary>
    internal static LstmEngine Engine(LstmModel model, PipelineOptions? pipeline = null) =>
        LstmEngine.Create(model, new LstmEngineOptions { Backend = "managed", Pipeline = pipeline ?? new PipelineOptions { MaxBatchRows = 64 } });

    private async Task<List<LstmResult>> RunAsync(LstmEngine engine, IEnumerable<LstmStep> steps) =>
        (await Source.From(steps).Via(LstmFlow.Create(engine)).RunWith(Sink.Seq<LstmResult>(), _materializer)
            .WaitAsync(TimeSpan.FromSeconds(60))).ToList();

    /// <summary>The steps as the reference sees them: position (1-based) as tag, flags from the step.</summary>
    internal static List<TestStep> AsTestSteps(IReadOnlyList<LstmStep> steps, Func<LstmStep, bool> valid) =>
        steps.Select((s, i) => (s, i))
            .Where(p => valid(p.s))
            .Select(p => new TestStep(p.s.Key, p.s.Seq ?? 0, p.s.X.ToArray(),
                (p.s.Reset ? StepFlags.Reset : StepFlags.None) | (p.s.End ? StepFlags.End : StepFlags.None), p.i + 1))
            .ToList();

    /// <summary>Every valid step's output, per key in step order, equal to the reference; every other step rejected.</summary>
    private static void AssertOutputsMatchReference(LstmModel model, IReadOnlyList<LstmStep> steps, IReadOnlyList<LstmResult> results,
        Func<LstmStep, bool> valid)
    {
        var expectedSteps = AsTestSteps(steps, valid);
        var reference = Reference(model, expectedSteps);
        var outputs = results.OfType<LstmOutput>().GroupBy(o => o.Key).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(expectedSteps.Count, results.OfType<LstmOutput>().Count());
        foreach (var group in expectedSteps.GroupBy(s => s.Key))
        {
            var got = outputs[group.Key];
            var want = group.ToList();
            Assert.Equal(want.Count, got.Count);
            for (var i = 0; i < want.Count; i++)
            {
                Assert.Equal(steps[(int)want[i].Tag - 1].Seq, got[i].Seq);
                Assert.Equal(reference[want[i].Tag], got[i].Y);
            }
        }
    }

    /// <summary><paramref name="count"/> steps (seq = index) of keys k0 … k{keys - 1}, a share <paramref name="badRate"/> of them with x one value too long or short.</summary>
    private static List<LstmStep> StepsWithBadWidths(Random rng, LstmModel model, int count, int keys, double badRate, int badDelta)
    {
        var steps = new List<LstmStep>();
        for (var i = 0; i < count; i++)
        {
            var bad = rng.NextDouble() < badRate;
            steps.Add(new LstmStep($"k{rng.Next(keys)}", RandomArray(rng, bad ? model.InputSize + badDelta : model.InputSize, 1), i));
        }

        return steps;
    }

    /// <summary>Each key's results (outputs and rejections) come in its steps' seq order.</summary>
    private static void AssertEachKeysResultsInStepOrder(IReadOnlyList<LstmResult> results) =>
        AssertEachKeysResultsInStepOrder(results.Select(r => (r.Key, r.Seq!.Value)));

    /// <summary>Each key's results, as (key, seq) in emission order, come in its steps' seq order.</summary>
    internal static void AssertEachKeysResultsInStepOrder(IEnumerable<(string? Key, long Seq)> results)
    {
        foreach (var key in results.GroupBy(r => r.Key))
        {
            var seqs = key.Select(r => r.Seq).ToList();
            Assert.Equal(seqs.Order(), seqs);
        }
    }

    [Fact]
    public async Task Outputs_equal_the_per_key_reference_in_each_keys_step_order()
    {
        var rng = new Random(5);
        var model = SeedModel(3);
        var steps = new List<LstmStep>();
        for (var i = 0; i < 3000; i++)
        {
            var roll = rng.NextDouble();
            steps.Add(new LstmStep($"k{rng.Next(200)}", RandomArray(rng, model.InputSize, 1), Seq: i % 3 == 0 ? null : i,
                Reset: roll < 0.03, End: roll is >= 0.03 and < 0.06));
        }

        using var engine = Engine(model);
        var results = await RunAsync(engine, steps);

        Assert.Equal(steps.Count, results.Count);
        Assert.All(results, r => Assert.IsType<LstmOutput>(r));
        AssertOutputsMatchReference(model, steps, results, _ => true);
    }

    [Fact]
    public async Task A_step_with_the_wrong_x_width_is_rejected_in_its_keys_order_and_the_stream_goes_on()
    {
        var rng = new Random(6);
        var model = SeedModel(4);
        var steps = new List<LstmStep>
        {
            new("a", RandomArray(rng, model.InputSize), 1),
            new("a", new float[model.InputSize + 2], 2),
            new("b", Array.Empty<float>(), 3),
            new("a", RandomArray(rng, model.InputSize), 4),
        };

        using var engine = Engine(model);
        var results = await RunAsync(engine, steps);

        var ofA = results.Where(r => r.Key == "a").ToList();
        Assert.Equal([1L, 2L, 4L], ofA.Select(r => r.Seq!.Value));
        var wide = Assert.IsType<LstmStepRejected>(ofA[1]);
        Assert.Equal((2L, "x", $"has {model.InputSize + 2} values, the model's input size is {model.InputSize}"), (wide.Position, wide.Field, wide.Reason));
        var empty = Assert.IsType<LstmStepRejected>(Assert.Single(results, r => r.Key == "b"));
        Assert.Equal($"has 0 values, the model's input size is {model.InputSize}", empty.Reason);
        Assert.Equal($"step 3, key 'b', seq 3, field 'x': has 0 values, the model's input size is {model.InputSize}", empty.ToString());
        // The rejected step left a's state alone: its next output is the reference without it.
        AssertOutputsMatchReference(model, steps, results, s => s.X.Length == model.InputSize);
    }

    [Theory]
    [InlineData(null, "missing")]
    [InlineData("", "must not be empty")]
    public async Task A_step_without_a_key_is_rejected_naming_the_key_field(string? key, string reason)
    {
        var model = SeedModel(2);
        using var engine = Engine(model);
        var results = await RunAsync(engine, [new LstmStep(key!, new float[model.InputSize], 9), new LstmStep("k", new float[model.InputSize], 10)]);

        var rejected = Assert.IsType<LstmStepRejected>(results.Single(r => r.Seq == 9));
        Assert.Equal((1L, "key", reason, key), (rejected.Position, rejected.Field, rejected.Reason, rejected.Key));
        Assert.IsType<LstmOutput>(results.Single(r => r.Seq == 10));
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public async Task A_value_that_is_not_a_finite_float_is_rejected_naming_its_index(float bad, string text)
    {
        var model = SeedModel(2);
        var x = new float[model.InputSize];
        x[1] = bad;
        using var engine = Engine(model);
        var results = await RunAsync(engine, [new LstmStep("k", new float[model.InputSize]), new LstmStep("k", x), new LstmStep("k", new float[model.InputSize])]);

        Assert.Equal(3, results.Count);
        var rejected = Assert.IsType<LstmStepRejected>(results[1]);
        Assert.Equal(("k", "x", $"x[1] = {text} is not a finite 32-bit float"), (rejected.Key, rejected.Field, rejected.Reason));
        Assert.IsType<LstmOutput>(results[2]);
    }

    [Fact]
    public async Task Rejections_keep_their_keys_order_among_thousands_of_interleaved_steps()
    {
        var rng = new Random(8);
        var model = SeedModel(5);
        var steps = StepsWithBadWidths(rng, model, 4000, keys: 50, badRate: 0.15, badDelta: -1);

        using var engine = Engine(model, new PipelineOptions { MaxBatchRows = 16, AsyncLayers = true });
        var (handle, done) = Source.From(steps).ViaMaterialized(LstmFlow.Create(engine), Keep.Right)
            .ToMaterialized(Sink.Seq<LstmResult>(), Keep.Both).Run(_materializer);
        var results = (await done.WaitAsync(TimeSpan.FromSeconds(60))).ToList();

        Assert.Equal(steps.Count, results.Count);
        AssertEachKeysResultsInStepOrder(results);

        Assert.All(results.OfType<LstmStepRejected>(), r => Assert.Equal(r.Seq + 1, r.Position));
        var rejectedCount = steps.Count(s => s.X.Length != model.InputSize);
        Assert.Equal((steps.Count, rejectedCount, steps.Count - rejectedCount),
            (handle.Steps.Received, handle.Steps.Rejected, handle.Steps.Outputs));
        Assert.Equal(rejectedCount, results.OfType<LstmStepRejected>().Count());
        AssertOutputsMatchReference(model, steps, results, s => s.X.Length == model.InputSize);
    }

    [Fact]
    public async Task With_one_row_micro_batches_each_fragment_spans_many_batches_and_every_keys_results_keep_their_order()
    {
        // A fragment holds several micro-batches; here each becomes one-row micro-batches, gathered again on the
        // way back, with rejections waiting for their key's last step.
        var rng = new Random(9);
        var model = SeedModel(6);
        var steps = StepsWithBadWidths(rng, model, 5000, keys: 3, badRate: 0.05, badDelta: 1);

        using var engine = Engine(model, new PipelineOptions { MaxBatchRows = 1 });
        var results = await RunAsync(engine, steps);

        Assert.Equal(steps.Count, results.Count);
        AssertEachKeysResultsInStepOrder(results);

        Assert.Equal(steps.Count(s => s.X.Length != model.InputSize), results.OfType<LstmStepRejected>().Count());
        AssertOutputsMatchReference(model, steps, results, s => s.X.Length == model.InputSize);
    }

    [Fact]
    public async Task Steps_from_a_source_that_always_has_the_next_one_reach_the_model_in_whole_micro_batches()
    {
        // A synchronous source keeps a fragment filling until it is full (256 rows: four rounds of 64 keys) instead of
        // handing the model whatever joined during one round trip, so every micro-batch is one whole round, as when a
        // caller of the pooled path hands it whole rounds.
        const int keys = 64, rounds = 100;
        var rng = new Random(3);
        var model = SeedModel(4);
        var steps = Enumerable.Range(0, rounds)
            .SelectMany(r => Enumerable.Range(0, keys).Select(k => new LstmStep($"k{k}", RandomArray(rng, model.InputSize, 1), r)))
            .ToList();

        using var engine = Engine(model, new PipelineOptions { MaxBatchRows = keys });
        var (handle, done) = Source.From(steps)
            .ViaMaterialized(LstmFlow.Create(engine), Keep.Right)
            .ToMaterialized(Sink.Seq<LstmResult>(), Keep.Both)
            .Run(_materializer);
        var results = await done.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(steps.Count, results.OfType<LstmOutput>().Count());
        Assert.Equal(rounds, handle.Sessions.Batches);
        AssertOutputsMatchReference(model, steps, results.ToList(), _ => true);
    }

    [Theory]
    [InlineData(1, 256)]
    [InlineData(64, 256)]
    [InlineData(100, 400)]
    [InlineData(256, 1024)]
    [InlineData(1024, 1024)]
    [InlineData(4096, 4096)]
    public void A_fragment_holds_a_few_micro_batches_and_never_fewer_than_256_rows(int maxBatchRows, int fragmentRows) =>
        Assert.Equal(fragmentRows, LstmStepCodec.FragmentRowsFor(maxBatchRows));

    [Theory]
    [InlineData(1, 1024)]
    [InlineData(64, 1024)]
    [InlineData(1024, 1024)]
    [InlineData(4096, 4096)]
    public void A_batched_flows_fragment_holds_as_many_rows_as_the_pooled_paths_callers_hand_over_or_one_micro_batch(int maxBatchRows, int fragmentRows) =>
        Assert.Equal(fragmentRows, LstmBatchCodec.FragmentRowsFor(maxBatchRows));

    [Fact]
    public async Task Rejections_can_be_diverted_to_a_sink_of_their_own()
    {
        var model = SeedModel(2);
        using var engine = Engine(model);
        var rejections = new List<LstmStepRejected>();
        var outputs = await Source.From(new[] { new LstmStep("k", new float[model.InputSize]), new LstmStep("", new float[model.InputSize]) })
            .Via(LstmFlow.Create(engine))
            .DivertTo(Sink.ForEach<LstmResult>(r => rejections.Add((LstmStepRejected)r)).MapMaterializedValue(_ => NotUsed.Instance), r => r is LstmStepRejected)
            .RunWith(Sink.Seq<LstmResult>(), _materializer).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.IsType<LstmOutput>(Assert.Single(outputs));
        Assert.Equal("key", Assert.Single(rejections).Field);
    }

    [Fact]
    public async Task The_handle_exports_imports_resets_drops_and_counts_keys_in_stream_order()
    {
        var rng = new Random(9);
        var model = SeedModel(6);
        using var engine = Engine(model);
        var (steps, handle, results) = this.SourceProbe<LstmStep>()
            .ViaMaterialized(LstmFlow.Create(engine), (s, h) => (s, h))
            .ToMaterialized(this.SinkProbe<LstmResult>(), (sh, r) => (sh.s, sh.h, r))
            .Run(_materializer);
        results.Request(100);
        var x1 = RandomArray(rng, model.InputSize);
        var x2 = RandomArray(rng, model.InputSize);
        await steps.SendNextAsync(new LstmStep("a", x1, 1));
        await steps.SendNextAsync(new LstmStep("b", x1, 1));
        var first = await results.ExpectNextNAsync(2).ToListAsync();

        var exported = await handle.State.ExportAsync("a");
        Assert.NotNull(exported);
        Assert.Equal(engine.Model.Identity, handle.State.ModelIdentity);
        Assert.True(await handle.State.ResetAsync("b"));
        await steps.SendNextAsync(new LstmStep("b", x1, 2));
        var afterReset = Assert.IsType<LstmOutput>(await results.ExpectNextAsync());
        Assert.Equal(first.OfType<LstmOutput>().Single(o => o.Key == "b").Y, afterReset.Y);

        await steps.SendNextAsync(new LstmStep("a", x2, 2));
        var a2 = Assert.IsType<LstmOutput>(await results.ExpectNextAsync());
        await handle.State.ImportAsync(exported!);
        await steps.SendNextAsync(new LstmStep("a", x2, 3));
        Assert.Equal(a2.Y, Assert.IsType<LstmOutput>(await results.ExpectNextAsync()).Y);

        Assert.True(await handle.State.DropAsync("a"));
        var counts = await handle.State.CountsAsync();
        Assert.Equal((1, 1L), (counts.LiveKeys, counts.KeysEnded));
        Assert.Equal(1, handle.Sessions.Snapshot().LiveKeys);
        Assert.Equal((5L, 0L, 5L), (handle.Steps.Received, handle.Steps.Rejected, handle.Steps.Outputs));
        await steps.SendCompleteAsync();
        await results.ExpectCompleteAsync();
    }

    [Fact]
    public async Task A_replayed_step_is_answered_with_an_LstmDuplicate_and_not_applied()
    {
        var model = SeedModel(7);
        using var engine = Engine(model);
        var x = Enumerable.Range(0, 4).Select(i => RandomArray(new Random(i), model.InputSize, 1f)).ToArray();
        var steps = new[]
        {
            new LstmStep("k", x[0], Seq: 1), new LstmStep("k", x[1], Seq: 2), new LstmStep("k", x[2], Seq: 2), new LstmStep("k", x[3], Seq: 3),
        };

        var results = await RunAsync(engine, steps);

        Assert.Equal(new[] { typeof(LstmOutput), typeof(LstmOutput), typeof(LstmDuplicate), typeof(LstmOutput) }, results.Select(r => r.GetType()));
        var duplicate = Assert.IsType<LstmDuplicate>(results[2]);
        Assert.Equal(("k", 2L), (duplicate.Key, duplicate.Seq));
        var applied = new[] { steps[0], steps[1], steps[3] };
        AssertOutputsMatchReference(model, applied, results.OfType<LstmOutput>().ToList(), _ => true);
    }

    [Fact]
    public async Task A_second_concurrent_materialization_of_one_engine_fails_and_the_first_goes_on()
    {
        var model = SeedModel(2);
        using var engine = Engine(model);
        var flow = LstmFlow.Create(engine);
        var (steps, results) = this.SourceProbe<LstmStep>().Via(flow).ToMaterialized(this.SinkProbe<LstmResult>(), Keep.Both).Run(_materializer);
        results.Request(10);
        await steps.SendNextAsync(new LstmStep("k", new float[model.InputSize]));
        await results.ExpectNextAsync();

        var second = Source.Single(new LstmStep("k", new float[model.InputSize])).Via(flow).RunWith(Sink.Seq<LstmResult>(), _materializer);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => second.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("one at a time", failure.Message);

        await steps.SendNextAsync(new LstmStep("k", new float[model.InputSize]));
        Assert.IsType<LstmOutput>(await results.ExpectNextAsync());
        await steps.SendCompleteAsync();
        await results.ExpectCompleteAsync();

        // Once the first has stopped the engine runs the flow again.
        Assert.Single(await RunAsync(engine, [new LstmStep("k", new float[model.InputSize])]));
    }

    [Fact]
    public async Task An_engine_loads_a_model_file_with_the_automatic_backend_choice()
    {
        using var engine = LstmEngine.Load(new LstmEngineOptions
        {
            ModelPath = Path.Combine(SharedData.RepositoryRoot, "models", "demo.onnx"),
            Pipeline = new PipelineOptions { MaxBatchRows = 8, IdleTimeout = TimeSpan.FromMinutes(1) },
        });

        Assert.Equal("auto", engine.Backend);
        Assert.Equal(engine.Model.Layers.Count + (engine.Model.Head is null ? 0 : 1), engine.BackendChoices.Count);
        var results = await RunAsync(engine, [new LstmStep("s", new float[engine.Model.InputSize], 1)]);
        Assert.Equal(engine.Model.OutputSize, Assert.IsType<LstmOutput>(Assert.Single(results)).Y.Length);
    }

    public static TheoryData<LstmEngineOptions, string> BadOptions => new()
    {
        { new LstmEngineOptions(), "ModelPath" },
        { new LstmEngineOptions { ModelPath = "m.onnx", Threads = 0 }, "Threads must be positive, got 0" },
        { new LstmEngineOptions { ModelPath = "m.onnx", Backend = "gpu" }, "Backend: unknown math backend 'gpu'" },
        { new LstmEngineOptions { ModelPath = "m.onnx", Pipeline = new PipelineOptions { MaxBatchRows = 0 } }, "Pipeline.MaxBatchRows must be positive" },
        { new LstmEngineOptions { ModelPath = "m.onnx", Pipeline = new PipelineOptions { MaxBatchRows = 8, MaxLiveKeys = 4 } }, "Pipeline.MaxLiveKeys (4)" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Engine_options_out_of_range_are_refused_naming_the_setting(LstmEngineOptions options, string message)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => LstmEngine.Load(options));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void A_missing_model_file_is_refused_naming_the_file()
    {
        var e = Assert.Throws<FileNotFoundException>(() => LstmEngine.Load(new LstmEngineOptions { ModelPath = "/nonexistent/sensor.onnx" }));
        Assert.Contains("/nonexistent/sensor.onnx", e.Message);
    }
}
