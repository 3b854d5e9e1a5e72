using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

public class StackedLstmTests
{
    /// <summary>The tutorial's stack (6 inputs → 4 → 5) plus a peephole/projection layer and a softmax head.</summary>
    private static LstmModel TutorialModel(Random rng, bool head)
    {
        var layers = new[]
        {
            ReferenceLstmCell.RandomLayer(rng, 6, 4, scale: 3f),
            ReferenceLstmCell.RandomLayer(rng, 4, 5, scale: 3f),
            ReferenceLstmCell.RandomLayer(rng, 5, 9, peepholes: true, cellClip: 1.5f, projectionSize: 3, projectionClip: 0.8f, scale: 3f),
        };
        var dense = head ? new DenseHead(3, 2, ReferenceLstmCell.RandomValues(rng, 6, 2f), ReferenceLstmCell.RandomValues(rng, 2), HeadActivation.Softmax) : null;
        return new LstmModel(layers, dense);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Per_row_lengths_give_zeros_past_the_end_and_the_state_at_the_last_valid_step(bool head)
    {
        var rng = new Random(head ? 21 : 20);
        var model = TutorialModel(rng, head);
        var stack = new StackedLstm(model, new ManagedMatMul());
        int batch = 7, time = 6;
        int[] lengths = [6, 0, 3, 6, 1, 5, 3];
        var inputs = ReferenceLstmCell.RandomValues(rng, batch * time * 6, 2f);
        var initial = RandomState(rng, model, batch);
        var initialCopy = initial.C.Concat(initial.H).Select(a => (float[])a.Clone()).ToArray();

        var result = stack.Run(inputs, batch, time, lengths, initial);

        int width = head ? 2 : 3;
        Assert.Equal(width, result.Width);
        for (var b = 0; b < batch; b++)
        {
            var (outputs, finalC, finalH) = Reference(model, inputs, b, time, lengths[b], initial, head);
            for (var t = 0; t < time; t++)
            {
                for (var j = 0; j < width; j++)
                {
                    float got = result.Outputs[(b * time + t) * width + j];
                    if (t >= lengths[b]) Assert.True(got == 0f, $"row {b} step {t} past length {lengths[b]}: output {got}, expected 0");
                    else Near(outputs[t][j], got, $"row {b} step {t} output {j}");
                }
            }

            for (var k = 0; k < model.Layers.Count; k++)
            {
                var l = model.Layers[k];
                for (var u = 0; u < l.CellSize; u++) Near(finalC[k][u], result.FinalState.C[k][b * l.CellSize + u], $"row {b} layer {k} final c[{u}]");
                for (var u = 0; u < l.OutputSize; u++) Near(finalH[k][u], result.FinalState.H[k][b * l.OutputSize + u], $"row {b} layer {k} final h[{u}]");
            }
        }

        // The given initial state is left as it was.
        Assert.Equal(initialCopy, initial.C.Concat(initial.H).ToArray());
    }

    [Fact]
    public void Running_from_a_given_state_equals_running_the_prefix_first()
    {
        var rng = new Random(30);
        var model = TutorialModel(rng, head: true);
        var stack = new StackedLstm(model, new ManagedMatMul());
        int batch = 5, time = 8, split = 3;
        var inputs = ReferenceLstmCell.RandomValues(rng, batch * time * 6, 2f);

        var whole = stack.Run(inputs, batch, time);
        var prefix = stack.Run(Steps(inputs, batch, time, 0, split), batch, split);
        var rest = stack.Run(Steps(inputs, batch, time, split, time), batch, time - split, initialState: prefix.FinalState);

        for (var b = 0; b < batch; b++)
        {
            for (var t = 0; t < time; t++)
            {
                for (var j = 0; j < 2; j++)
                {
                    float expected = whole.Outputs[(b * time + t) * 2 + j];
                    float got = t < split ? prefix.Outputs[(b * split + t) * 2 + j] : rest.Outputs[(b * (time - split) + t - split) * 2 + j];
                    Assert.True(Math.Abs(expected - got) <= 1e-6f, $"row {b} step {t}: {got} vs {expected}");
                }
            }
        }

        for (var k = 0; k < model.Layers.Count; k++)
        {
            Assert.Equal(whole.FinalState.C[k], rest.FinalState.C[k]);
            Assert.Equal(whole.FinalState.H[k], rest.FinalState.H[k]);
        }
    }

    [Fact]
    public void Without_lengths_every_row_runs_every_step_and_without_head_outputs_are_the_top_h()
    {
        var rng = new Random(40);
        var model = TutorialModel(rng, head: true);
        using var backend = new ManagedMatMul(2);
        var stack = new StackedLstm(model, backend);
        int batch = 30, time = 4;
        var inputs = ReferenceLstmCell.RandomValues(rng, batch * time * 6, 2f);
        var result = stack.Run(inputs, batch, time, applyHead: false);
        Assert.Equal(3, result.Width);
        var zero = stack.ZeroState(batch);
        for (var b = 0; b < batch; b += 7)
        {
            var (outputs, _, finalH) = Reference(model, inputs, b, time, time, zero, head: false);
            for (var t = 0; t < time; t++)
            {
                for (var j = 0; j < 3; j++) Near(outputs[t][j], result.Outputs[(b * time + t) * 3 + j], $"row {b} step {t} h[{j}]");
            }

            for (var j = 0; j < 3; j++) Assert.Equal(result.Outputs[(b * time + time - 1) * 3 + j], result.FinalState.H[2][b * 3 + j]);
            Near(finalH[2][0], result.FinalState.H[2][b * 3], $"row {b} final top h");
        }
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_what_is_wrong()
    {
        var model = TutorialModel(new Random(1), head: false);
        var stack = new StackedLstm(model, new ManagedMatMul());
        Assert.Contains("expected batch 2", Assert.Throws<ArgumentException>(() => stack.Run(new float[10], 2, 1)).Message);
        Assert.Contains("lengths[1] = 3", Assert.Throws<ArgumentOutOfRangeException>(() => stack.Run(new float[24], 2, 2, [1, 3])).Message);
        Assert.Contains("initial state", Assert.Throws<ArgumentException>(() => stack.Run(new float[24], 2, 2, initialState: stack.ZeroState(3))).Message);
    }

    private static float[] Steps(float[] inputs, int batch, int time, int from, int to)
    {
        var result = new float[batch * (to - from) * 6];
        for (var b = 0; b < batch; b++)
            inputs.AsSpan((b * time + from) * 6, (to - from) * 6).CopyTo(result.AsSpan(b * (to - from) * 6));
        return result;
    }

    private static LstmState RandomState(Random rng, LstmModel model, int batch)
    {
        return new LstmState(batch,
            model.Layers.Select(l => ReferenceLstmCell.RandomValues(rng, batch * l.CellSize)).ToArray(),
            model.Layers.Select(l => ReferenceLstmCell.RandomValues(rng, batch * l.OutputSize)).ToArray());
    }

    /// <summary>One row through the stack in double precision: outputs per valid step and the final (c, h) per layer.</summary>
    private static (double[][] Outputs, double[][] C, double[][] H) Reference(LstmModel model, float[] inputs, int b, int time, int length, LstmState initial, bool head)
    {
        int layers = model.Layers.Count;
        var c = new double[layers][];
        var h = new double[layers][];
        for (var k = 0; k < layers; k++)
        {
            var l = model.Layers[k];
            c[k] = initial.C[k].Skip(b * l.CellSize).Take(l.CellSize).Select(v => (double)v).ToArray();
            h[k] = initial.H[k].Skip(b * l.OutputSize).Take(l.OutputSize).Select(v => (double)v).ToArray();
        }

        var outputs = new double[length][];
        for (var t = 0; t < length; t++)
        {
            var x = inputs.Skip((b * time + t) * 6).Take(6).Select(v => (double)v).ToArray();
            for (var k = 0; k < layers; k++)
            {
                (h[k], c[k]) = ReferenceLstmCell.Step(model.Layers[k], x, h[k], c[k]);
                x = h[k];
            }

            if (head && model.Head is { } d)
            {
                var y = new double[d.OutputSize];
                for (var j = 0; j < d.OutputSize; j++)
                {
                    y[j] = d.Bias[j];
                    for (var i = 0; i < d.InputSize; i++) y[j] += x[i] * d.Weights[i * d.OutputSize + j];
                }

                double max = y.Max(), sum = y.Sum(v => Math.Exp(v - max));
                x = y.Select(v => Math.Exp(v - max) / sum).ToArray();
            }

            outputs[t] = x;
        }

        return (outputs, c, h);
    }

    private static void Near(double expected, float actual, string what)
    {
        if (!(Math.Abs(actual - expected) <= 1e-5 + 1e-5 * Math.Abs(expected)))
            Assert.Fail($"{what}: {actual}, expected {expected} (difference {actual - expected:E2})");
    }
}
