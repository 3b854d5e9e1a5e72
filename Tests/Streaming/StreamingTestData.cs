using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Streaming;

/// <summary>One input step of a test: its key, seq, vector, flags and a unique tag (its input index).</summary>
internal sealed record TestStep(string Key, long Seq, float[] X, StepFlags Flags, long Tag);

/// <summary>One output row copied out of a pipeline batch (<see cref="Batch"/>: index of the batch it came in).</summary>
internal sealed record TestOutput(string Key, long Seq, long Tag, StepFlags Flags, float[] Y, int Batch);

/// <summary>Random models, interleaved keyed inputs, fragments, and the per-key reference run.</summary>
internal static class StreamingTestData
{
    public static float[] RandomArray(Random rng, int length, float scale = 0.5f)
    {
        var a = new float[length];
        for (var i = 0; i < length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>
    /// The tutorial's 6 → 4 → 5 stack with a 3-output head. The default head activation (ReLU) is exact
    /// elementwise; sigmoid/tanh heads are not bit-identical across batch sizes (see
    /// <see cref="AssertMatchesReference"/>).
    /// </summary>
    public static LstmModel SeedModel(int seed, HeadActivation? head = HeadActivation.Relu) =>
        RandomModel(new Random(seed), 6, [4, 5], head);

    /// <summary>A stacked model; layer k has <c>cells[k]</c> cells; options add peepholes, projection, clips.</summary>
    public static LstmModel RandomModel(Random rng, int inputSize, int[] cells, HeadActivation? head,
        bool peepholes = false, int projectTopLayer = 0, float? cellClip = null)
    {
        var layers = new List<LstmLayer>();
        var input = inputSize;
        for (var k = 0; k < cells.Length; k++)
        {
            var n = cells[k];
            var proj = k == cells.Length - 1 ? projectTopLayer : 0;
            var outSize = proj > 0 ? proj : n;
            var layer = new LstmLayer(
                input, n,
                RandomArray(rng, (input + outSize) * 4 * n),
                RandomArray(rng, 4 * n),
                peepholes ? RandomArray(rng, n) : null,
                peepholes ? RandomArray(rng, n) : null,
                peepholes ? RandomArray(rng, n) : null,
                cellClip: cellClip,
                projection: proj > 0 ? RandomArray(rng, n * proj) : null,
                projectionSize: proj);
            layers.Add(layer);
            input = layer.OutputSize;
        }

        DenseHead? dense = head is { } act ? new DenseHead(input, 3, RandomArray(rng, input * 3), RandomArray(rng, 3), act) : null;
        return new LstmModel(layers, dense, "test");
    }

    /// <summary>
    /// <paramref name="keys"/> keys with 1..<paramref name="maxSteps"/> steps each, randomly interleaved (each
    /// key's steps in seq order). <paramref name="controlRate"/>: probability of a reset or an end on a step.
    /// </summary>
    public static List<TestStep> InterleavedSteps(Random rng, int keys, int maxSteps, int width, double controlRate = 0)
    {
        var remaining = new List<(string Key, int Left, long Seq)>();
        for (var k = 0; k < keys; k++) remaining.Add(($"key-{k}", rng.Next(1, maxSteps + 1), 0));
        var steps = new List<TestStep>();
        while (remaining.Count > 0)
        {
            var i = rng.Next(remaining.Count);
            var (key, left, seq) = remaining[i];
            var flags = StepFlags.HasSeq;
            if (rng.NextDouble() < controlRate) flags |= StepFlags.Reset;
            if (rng.NextDouble() < controlRate) flags |= StepFlags.End;
            steps.Add(new TestStep(key, seq, RandomArray(rng, width, 1f), flags, steps.Count));
            if (left == 1)
            {
                remaining[i] = remaining[^1];
                remaining.RemoveAt(remaining.Count - 1);
            }
            else
            {
                remaining[i] = (key, left - 1, seq + 1);
            }
        }

        return steps;
    }

    /// <summary>Cuts <paramref name="steps"/> in order into fragments of 1..<paramref name="maxRows"/> rows.</summary>
    public static List<StepBatch> Fragments(IReadOnlyList<TestStep> steps, int width, Random rng, int maxRows)
    {
        var fragments = new List<StepBatch>();
        var i = 0;
        while (i < steps.Count)
        {
            var n = Math.Min(rng.Next(1, maxRows + 1), steps.Count - i);
            fragments.Add(Fragment(steps.Skip(i).Take(n), width));
            i += n;
        }

        return fragments;
    }

    public static StepBatch Fragment(IEnumerable<TestStep> steps, int width)
    {
        var list = steps.ToList();
        var batch = StepBatch.Rent(Math.Max(1, list.Count), width);
        foreach (var s in list)
        {
            var r = batch.Add(s.Key, s.Seq, s.Flags, s.Tag);
            s.X.CopyTo(batch.Row(r));
        }

        return batch;
    }

    /// <summary>Copies every row of <paramref name="batch"/> out and releases it.</summary>
    public static List<TestOutput> Drain(StepBatch batch, int batchIndex)
    {
        var rows = new List<TestOutput>(batch.Count);
        for (var r = 0; r < batch.Count; r++)
            rows.Add(new TestOutput(batch.Keys[r], batch.Seq[r], batch.Tags[r], batch.Flags[r], batch.Row(r).ToArray(), batchIndex));
        batch.Release();
        return rows;
    }

    /// <summary>
    /// The expected output of every step (by tag): each key run on its own through <see cref="StackedLstm"/>,
    /// one step at a time with its state carried, zeroed before a reset step and dropped after an end step.
    /// </summary>
    public static Dictionary<long, float[]> Reference(LstmModel model, IEnumerable<TestStep> steps,
        IReadOnlyDictionary<string, LstmState>? initial = null)
    {
        var lstm = new StackedLstm(model, new ManagedMatMul());
        var states = initial is null ? new Dictionary<string, LstmState>() : new Dictionary<string, LstmState>(initial);
        var expected = new Dictionary<long, float[]>();
        foreach (var s in steps)
        {
            var state = (s.Flags & StepFlags.Reset) != 0 || !states.TryGetValue(s.Key, out var st) ? null : st;
            var run = lstm.Run(s.X, 1, 1, initialState: state);
            expected[s.Tag] = run.Outputs;
            if ((s.Flags & StepFlags.End) != 0) states.Remove(s.Key);
            else states[s.Key] = run.FinalState;
        }

        return expected;
    }

    /// <summary>Checks outputs against the reference: every tag once, per-key input order, exact values.</summary>
    /// <remarks>
    /// <paramref name="maxUlps"/> = 0 demands bit-identical outputs, which holds for the LSTM layers (their
    /// activations run per row, so a row's result does not depend on the batch it is in). The dense head
    /// applies sigmoid/tanh over the whole <c>[rows × outputs]</c> block, and TensorPrimitives uses its
    /// vector formula for blocks at least one vector long and its scalar formula below, so a one-row
    /// reference and a batched run can differ in the last bit there.
    /// </remarks>
    public static void AssertMatchesReference(IReadOnlyList<TestStep> steps, IReadOnlyList<TestOutput> outputs,
        Dictionary<long, float[]> expected, int maxUlps = 0)
    {
        Assert.Equal(steps.Count, outputs.Count);
        Assert.Equal(steps.Select(s => s.Tag).Order(), outputs.Select(o => o.Tag).Order());
        var inputOrder = steps.GroupBy(s => s.Key).ToDictionary(g => g.Key, g => g.Select(s => s.Tag).ToList());
        var outputOrder = outputs.GroupBy(o => o.Key).ToDictionary(g => g.Key, g => g.Select(o => o.Tag).ToList());
        Assert.Equal(inputOrder.Count, outputOrder.Count);
        foreach (var (key, tags) in inputOrder) Assert.Equal(tags, outputOrder[key]);
        foreach (var o in outputs)
        {
            var want = expected[o.Tag];
            var ulps = want.Length != o.Y.Length ? int.MaxValue : want.Zip(o.Y, Ulps).DefaultIfEmpty(0).Max();
            if (ulps > maxUlps)
                Assert.Fail($"output of key '{o.Key}' seq {o.Seq} (tag {o.Tag}) differs: got [{string.Join(", ", o.Y)}], expected [{string.Join(", ", want)}]");
        }
    }

    private static int Ulps(float a, float b)
    {
        if (a.Equals(b)) return 0;
        if (!float.IsFinite(a) || !float.IsFinite(b) || Math.Sign(a) != Math.Sign(b)) return int.MaxValue;
        return (int)Math.Min(int.MaxValue, Math.Abs((long)BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b)));
    }

    /// <summary>No batch holds a key twice and none exceeds <paramref name="maxRows"/>.</summary>
    public static void AssertBatchesWellFormed(IReadOnlyList<TestOutput> outputs, int maxRows)
    {
        foreach (var batch in outputs.GroupBy(o => o.Batch))
        {
            Assert.True(batch.Count() <= maxRows, $"batch {batch.Key} has {batch.Count()} rows, more than {maxRows}");
            var dup = batch.GroupBy(o => o.Key).FirstOrDefault(g => g.Count() > 1);
            Assert.True(dup is null, $"batch {batch.Key} holds key '{dup?.Key}' twice");
        }
    }
}
