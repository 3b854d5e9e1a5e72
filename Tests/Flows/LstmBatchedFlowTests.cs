using System.Runtime.InteropServices;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Flows;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Flows;

public sealed class LstmBatchedFlowTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    public LstmBatchedFlowTests() => _materializer = Sys.Materializer();

    private static LstmEngine Engine(LstmModel model, PipelineOptions? pipeline = null) => LstmFlowTests.Engine(model, pipeline);

    /// <summary>Runs <paramref name="batches"/> through the batched flow; returns every row in emission order and the handle.</summary>
    private async Task<(List<LstmResultRow> Rows, List<LstmResultBatch> Batches, LstmFlowHandle Handle)> RunAsync(LstmEngine engine,
        IEnumerable<IReadOnlyList<LstmStep>> batches)
    {
        var (handle, done) = Source.From(batches)
            .ViaMaterialized(LstmFlow.CreateBatched(engine), Keep.Right)
            .ToMaterialized(Sink.Seq<LstmResultBatch>(), Keep.Both)
            .Run(_materializer);
        var emitted = (await done.WaitAsync(TimeSpan.FromSeconds(60))).ToList();
        return (emitted.SelectMany(b => b).ToList(), emitted, handle);
    }

    /// <summary><paramref name="steps"/> cut in order into lists of 0..<paramref name="maxSize"/> steps.</summary>
    private static List<IReadOnlyList<LstmStep>> Cut(Random rng, IReadOnlyList<LstmStep?> steps, int maxSize)
    {
        var batches = new List<IReadOnlyList<LstmStep>>();
        for (var i = 0; i < steps.Count;)
        {
            var n = Math.Min(rng.Next(0, maxSize + 1), steps.Count - i);
            batches.Add(steps.Skip(i).Take(n).ToArray()!);
            i += n;
        }

        return batches;
    }

    /// <summary>The per-key reference's outputs (StackedLstm, one step at a time) of the steps <paramref name="applied"/> says were run, by position.</summary>
    private static Dictionary<long, float[]> ReferenceByPosition(LstmModel model, IReadOnlyList<LstmStep> steps, Func<LstmStep, bool> applied) =>
        Reference(model, LstmFlowTests.AsTestSteps(steps, applied));

    /// <summary>Each key's rows come in its steps' seq order (every step here has a distinct, increasing seq).</summary>
    private static void AssertEachKeysRowsInStepOrder(IEnumerable<LstmResultRow> rows) =>
        LstmFlowTests.AssertEachKeysResultsInStepOrder(rows.Select(r => (r.Key, r.Seq!.Value)));

    [Fact]
    public async Task Batches_of_any_size_give_the_per_key_reference_in_each_keys_step_order()
    {
        var rng = new Random(21);
        var model = SeedModel(3);
        var steps = new List<LstmStep>();
        for (var i = 0; i < 4000; i++)
        {
            var roll = rng.NextDouble();
            steps.Add(new LstmStep($"k{rng.Next(150)}", RandomArray(rng, model.InputSize, 1), i, Reset: roll < 0.03, End: roll is >= 0.03 and < 0.06));
        }

        // Lists from empty to several fragments long (fragments here are 1024 rows, micro-batches 16).
        using var engine = Engine(model, new PipelineOptions { MaxBatchRows = 16 });
        var (rows, _, handle) = await RunAsync(engine, Cut(rng, steps, 2500));

        Assert.Equal(steps.Count, rows.Count);
        Assert.All(rows, r => Assert.Equal(LstmResultKind.Output, r.Kind));
        AssertEachKeysRowsInStepOrder(rows);
        var expected = ReferenceByPosition(model, steps, _ => true);
        foreach (var row in rows) Assert.Equal(expected[row.Seq!.Value + 1], row.Y.ToArray());
        Assert.Equal((4000L, 0L, 4000L), (handle.Steps.Received, handle.Steps.Rejected, handle.Steps.Outputs));
    }

    [Fact]
    public async Task Outputs_are_bit_identical_to_the_pooled_path_and_to_the_per_record_flow()
    {
        const int keys = 37, rounds = 40;
        var rng = new Random(22);
        var model = SeedModel(5);
        var steps = Enumerable.Range(0, rounds)
            .SelectMany(r => Enumerable.Range(0, keys).Select(k => new LstmStep($"k{k}", RandomArray(rng, model.InputSize, 1), r)))
            .ToList();
        var options = new PipelineOptions { MaxBatchRows = 32 };

        using var engine = Engine(model, options);
        var (rows, _, _) = await RunAsync(engine, Cut(rng, steps, 100));
        var batched = rows.ToDictionary(r => (r.Key!, r.Seq!.Value), r => r.Y.ToArray());

        var perRecord = (await Source.From(steps).Via(LstmFlow.Create(engine)).RunWith(Sink.Seq<LstmResult>(), _materializer))
            .Cast<LstmOutput>().ToDictionary(o => (o.Key, o.Seq!.Value), o => o.Y);

        // The pooled path: the same steps in rented fragments, every output row copied out and released.
        var pooled = new Dictionary<(string, long), float[]>();
        var fragments = steps.Chunk(200).Select(chunk =>
        {
            var fragment = StepBatch.Rent(chunk.Length, model.InputSize);
            foreach (var s in chunk) s.X.Span.CopyTo(fragment.Row(fragment.Add(s.Key, s.Seq!.Value, StepFlags.HasSeq, 0)));
            return fragment;
        });
        await Source.From(fragments).Via(engine.CreatePipeline()).RunForeach(batch =>
        {
            for (var r = 0; r < batch.Count; r++) pooled[(batch.Keys[r], batch.Seq[r])] = batch.Row(r).ToArray();
            batch.Release();
        }, _materializer);

        Assert.Equal(steps.Count, batched.Count);
        foreach (var (id, y) in pooled)
        {
            Assert.Equal(y, batched[id]);
            Assert.Equal(y, perRecord[id]);
        }
    }

    [Fact]
    public async Task Sparse_rejections_among_whole_rounds_come_between_their_keys_neighbouring_outputs()
    {
        // Whole rounds of 64 keys, micro-batches of one round: runs of consecutive rows leave the flight together, and a bad
        // step now and then must still come right after its key's previous output and before its next one.
        const int keys = 64, rounds = 60;
        var rng = new Random(27);
        var model = SeedModel(6);
        var steps = new List<LstmStep>();
        for (var r = 0; r < rounds; r++)
        {
            for (var k = 0; k < keys; k++)
            {
                var bad = rng.Next(300) == 0;
                steps.Add(new LstmStep($"k{k}", RandomArray(rng, bad ? model.InputSize + 2 : model.InputSize, 1), steps.Count));
            }
        }

        using var engine = Engine(model, new PipelineOptions { MaxBatchRows = keys });
        var (rows, _, handle) = await RunAsync(engine, steps.Chunk(keys * 16).Select(IReadOnlyList<LstmStep> (c) => c));

        Assert.Equal(steps.Count, rows.Count);
        AssertEachKeysRowsInStepOrder(rows);
        var rejected = rows.Where(r => r.Kind == LstmResultKind.Rejected).ToList();
        Assert.NotEmpty(rejected);
        Assert.All(rejected, r => Assert.Equal("x", r.Rejection!.Field));
        bool Valid(LstmStep s) => s.X.Length == model.InputSize;
        Assert.Equal(steps.Count(s => !Valid(s)), rejected.Count);
        var expected = ReferenceByPosition(model, steps, Valid);
        foreach (var row in rows.Where(r => r.Kind == LstmResultKind.Output)) Assert.Equal(expected[row.Seq!.Value + 1], row.Y.ToArray());
        Assert.Equal(steps.Count - rejected.Count, handle.Steps.Outputs);
    }

    [Fact]
    public async Task Invalid_steps_become_rejected_rows_in_their_keys_order_and_the_stream_goes_on()
    {
        var rng = new Random(23);
        var model = SeedModel(4);
        var steps = new List<LstmStep?>();
        for (var i = 0; i < 3000; i++)
        {
            var roll = rng.NextDouble();
            var width = roll < 0.1 ? model.InputSize + 1 : model.InputSize;
            steps.Add(new LstmStep($"k{rng.Next(40)}", RandomArray(rng, width, 1), i));
        }

        steps[100] = new LstmStep("", new float[model.InputSize], 100);
        steps[200] = null;
        var x = new float[model.InputSize];
        x[2] = float.NaN;
        steps[300] = new LstmStep(steps[299]!.Key, x, 300);

        using var engine = Engine(model, new PipelineOptions { MaxBatchRows = 8, AsyncLayers = true });
        var (rows, _, handle) = await RunAsync(engine, Cut(rng, steps, 300));

        Assert.Equal(steps.Count, rows.Count);
        AssertEachKeysRowsInStepOrder(rows.Where(r => r.Seq is not null));
        var rejected = rows.Where(r => r.Kind == LstmResultKind.Rejected).Select(r => r.Rejection!).ToList();
        bool Valid(LstmStep? s) => s is not null && s.Key.Length > 0 && s.X.Length == model.InputSize && !s.X.Span.Contains(float.NaN);
        Assert.Equal(steps.Count(s => !Valid(s)), rejected.Count);
        Assert.All(rejected.Where(r => r.Seq is not null), r => Assert.Equal(r.Seq + 1, r.Position));
        Assert.Equal(("key", "must not be empty"), (rejected.Single(r => r.Position == 101).Field, rejected.Single(r => r.Position == 101).Reason));
        var nullStep = rejected.Single(r => r.Position == 201);
        Assert.Equal(("key", (string?)null), (nullStep.Field, nullStep.Key));
        Assert.Equal("x[2] = NaN is not a finite 32-bit float", rejected.Single(r => r.Position == 301).Reason);
        Assert.All(rows.Where(r => r.Kind == LstmResultKind.Rejected), r => Assert.True(r.Y.IsEmpty));

        // Rejected steps left their keys' state alone.
        var valid = steps.Select(s => s ?? new LstmStep("", Array.Empty<float>())).ToList();
        var expected = ReferenceByPosition(model, valid, Valid);
        foreach (var row in rows.Where(r => r.Kind == LstmResultKind.Output)) Assert.Equal(expected[row.Seq!.Value + 1], row.Y.ToArray());
        Assert.Equal((3000L, rejected.Count, 3000L - rejected.Count), (handle.Steps.Received, handle.Steps.Rejected, handle.Steps.Outputs));
    }

    [Fact]
    public async Task Arrays_lists_and_other_lists_of_steps_give_the_same_rows_with_invalid_steps_anywhere()
    {
        // Arrays and List<T> are read as spans (their valid steps in one loop, stopping before a bad one); any other
        // IReadOnlyList one step at a time: the rows must not depend on which.
        var rng = new Random(27);
        var model = SeedModel(6);
        var steps = new List<LstmStep?>();
        for (var i = 0; i < 2500; i++)
        {
            var roll = rng.NextDouble();
            var x = RandomArray(rng, roll < 0.05 ? model.InputSize - 1 : model.InputSize, 1);
            if (roll is >= 0.05 and < 0.08) x[0] = float.PositiveInfinity;
            steps.Add(roll is >= 0.08 and < 0.1 ? null : new LstmStep(roll is >= 0.1 and < 0.12 ? "" : $"k{rng.Next(30)}", x, i));
        }

        var cut = Cut(rng, steps, 400);
        var results = new List<List<string>>();
        foreach (var shape in new Func<IReadOnlyList<LstmStep>, IReadOnlyList<LstmStep>>[]
                 { b => b.ToArray(), b => b.ToList(), b => b.ToList().AsReadOnly() })
        {
            using var engine = Engine(model, new PipelineOptions { MaxBatchRows = 8 });
            var (rows, _, handle) = await RunAsync(engine, cut.Select(shape).ToList());
            Assert.Equal(steps.Count, rows.Count);
            Assert.Equal(steps.Count(s => s is null || s.Key.Length == 0 || s.X.Length != model.InputSize || !float.IsFinite(s.X.Span[0])),
                handle.Steps.Rejected);
            AssertEachKeysRowsInStepOrder(rows.Where(r => r.Seq is not null));
            results.Add(rows.Select(r => r.ToString()).OrderBy(t => t, StringComparer.Ordinal).ToList());
        }

        Assert.Equal(results[0], results[1]);
        Assert.Equal(results[0], results[2]);
    }

    [Fact]
    public async Task A_caller_that_refills_one_list_and_its_x_buffers_for_every_batch_gets_the_reference()
    {
        // The flow reads a list when its turn comes and keeps nothing of it: once the next list is pulled, the
        // caller may overwrite the list and every x buffer it lent.
        const int keys = 50, rounds = 30;
        var rng = new Random(28);
        var model = SeedModel(7);
        var inputs = Enumerable.Range(0, rounds * keys).Select(_ => RandomArray(rng, model.InputSize, 1)).ToArray();
        var list = new LstmStep[keys];
        var buffers = Enumerable.Range(0, keys).Select(_ => new float[model.InputSize]).ToArray();
        // Source.Unfold makes the next list when the flow pulls (Source.From would read its enumerator one ahead).
        var refilled = Source.Unfold(0, round =>
        {
            if (round == rounds) return Akka.Util.Option<(int, IReadOnlyList<LstmStep>)>.None;
            for (var k = 0; k < keys; k++)
            {
                inputs[round * keys + k].CopyTo(buffers[k], 0);
                list[k] = new LstmStep($"k{k}", buffers[k], round * keys + k);
            }

            return (round + 1, (IReadOnlyList<LstmStep>)list);
        });

        using var engine = Engine(model, new PipelineOptions { MaxBatchRows = 64 });
        var rows = (await refilled.Via(LstmFlow.CreateBatched(engine)).RunWith(Sink.Seq<LstmResultBatch>(), _materializer)
            .WaitAsync(TimeSpan.FromSeconds(60))).SelectMany(b => b).ToList();

        var steps = Enumerable.Range(0, rounds * keys).Select(i => new LstmStep($"k{i % keys}", inputs[i], i)).ToList();
        var expected = ReferenceByPosition(model, steps, _ => true);
        Assert.Equal(steps.Count, rows.Count);
        foreach (var row in rows) Assert.Equal(expected[row.Seq!.Value + 1], row.Y.ToArray());
    }

    [Fact]
    public async Task One_input_batch_of_more_rejections_than_the_stage_holds_is_answered_in_full()
    {
        // 1,000 bad steps of a key behind a good one still in flight: the stage holds 256 waiting rejections, so it
        // must stop taking the list's steps and go on once rows have been emitted.
        var model = SeedModel(2);
        var good = new LstmStep("k", new float[model.InputSize], 0);
        var list = new[] { good }.Concat(Enumerable.Range(1, 1000).Select(i => new LstmStep("k", new float[1], i))).Append(new LstmStep("k", new float[model.InputSize], 1001)).ToArray();

        using var engine = Engine(model);
        var (rows, _, _) = await RunAsync(engine, [list, [new LstmStep("j", new float[model.InputSize], 0)]]);

        Assert.Equal(1003, rows.Count);
        Assert.Equal(Enumerable.Range(0, 1002).Select(i => (long)i), rows.Where(r => r.Key == "k").Select(r => r.Seq!.Value));
        Assert.Equal(1000, rows.Count(r => r.Kind == LstmResultKind.Rejected));
    }

    [Fact]
    public async Task A_batchs_outputs_share_one_block_that_stays_off_the_large_object_heap()
    {
        // 256 outputs per step: a gathered batch of 1,024 rows would need 1 MiB; it is cut into batches of 64 rows.
        var rng = new Random(24);
        var model = RandomModel(rng, 3, [256], head: null);
        var steps = Enumerable.Range(0, 1024).Select(i => new LstmStep($"k{i % 512}", RandomArray(rng, 3, 1), i / 512)).ToArray();

        using var engine = Engine(model, new PipelineOptions { MaxBatchRows = 512 });
        var (rows, batches, _) = await RunAsync(engine, [steps]);

        Assert.Equal(1024, rows.Count);
        Assert.All(batches, batch =>
        {
            Assert.InRange(batch.Count, 1, LstmBatchCodec.MaxOutputFloats / 256);
            var blocks = batch.Select(r => MemoryMarshal.TryGetArray(r.Y, out var segment) ? segment.Array! : null).Distinct().ToList();
            var block = Assert.Single(blocks);
            Assert.NotNull(block);
            Assert.True(block!.Length * sizeof(float) < 85_000, $"a block of {block.Length} floats");
        });
        Assert.Equal(64, LstmBatchCodec.RowsPerOutputBatch(256));
    }

    [Fact]
    public async Task A_replayed_step_is_a_duplicate_row_and_rows_convert_to_the_per_record_results()
    {
        var model = SeedModel(7);
        var x = Enumerable.Range(0, 3).Select(i => RandomArray(new Random(i), model.InputSize, 1f)).ToArray();
        using var engine = Engine(model);
        var (rows, _, handle) = await RunAsync(engine, [[new LstmStep("k", x[0], 1), new LstmStep("k", x[1], 1), new LstmStep("k", x[2])]]);

        Assert.Equal([LstmResultKind.Output, LstmResultKind.Duplicate, LstmResultKind.Output], rows.Select(r => r.Kind));
        Assert.True(rows[1].Y.IsEmpty);
        Assert.Null(rows[2].Seq);
        var results = rows.Select(r => r.ToResult()).ToList();
        Assert.Equal(("k", 1L), (Assert.IsType<LstmDuplicate>(results[1]).Key, ((LstmDuplicate)results[1]).Seq));
        Assert.Equal(rows[0].Y.ToArray(), Assert.IsType<LstmOutput>(results[0]).Y);
        Assert.Equal((2L, 1L), (handle.Steps.Outputs, handle.Steps.Duplicates));
    }

    [Fact]
    public async Task The_handle_exports_imports_resets_and_drops_keys_between_batches()
    {
        var rng = new Random(25);
        var model = SeedModel(6);
        using var engine = Engine(model);
        var (input, handle, output) = this.SourceProbe<IReadOnlyList<LstmStep>>()
            .ViaMaterialized(LstmFlow.CreateBatched(engine), (s, h) => (s, h))
            .ToMaterialized(this.SinkProbe<LstmResultBatch>(), (sh, r) => (sh.s, sh.h, r))
            .Run(_materializer);
        output.Request(100);
        var x1 = RandomArray(rng, model.InputSize);
        var x2 = RandomArray(rng, model.InputSize);

        async Task<List<LstmResultRow>> Send(params LstmStep[] steps)
        {
            await input.SendNextAsync(steps);
            var rows = new List<LstmResultRow>();
            while (rows.Count < steps.Length) rows.AddRange(await output.ExpectNextAsync());
            return rows;
        }

        var first = await Send(new LstmStep("a", x1, 1), new LstmStep("b", x1, 1));
        var exported = await handle.State.ExportAsync("a");
        Assert.NotNull(exported);
        Assert.True(await handle.State.ResetAsync("b"));
        var afterReset = Assert.Single(await Send(new LstmStep("b", x1, 2)));
        Assert.Equal(first.Single(r => r.Key == "b").Y.ToArray(), afterReset.Y.ToArray());

        var a2 = Assert.Single(await Send(new LstmStep("a", x2, 2)));
        await handle.State.ImportAsync(exported!);
        Assert.Equal(a2.Y.ToArray(), Assert.Single(await Send(new LstmStep("a", x2, 3))).Y.ToArray());

        Assert.True(await handle.State.DropAsync("a"));
        Assert.Equal(1, (await handle.State.CountsAsync()).LiveKeys);
        Assert.Equal((5L, 5L), (handle.Steps.Received, handle.Steps.Outputs));
        await input.SendCompleteAsync();
        await output.ExpectCompleteAsync();
    }
}
