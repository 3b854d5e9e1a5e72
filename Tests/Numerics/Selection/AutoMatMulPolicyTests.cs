using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Tests.Numerics.Selection;

/// <summary>
/// The <c>auto</c> choice of a model tunes its one-thread plans once per process (per model and options): choosing again,
/// with the same or another thread count, keeps them, so two configurations of one model differ only where the split
/// over threads was measured to pay, never by a second, noisy tuning below it.
/// </summary>
public class AutoMatMulPolicyTests
{
    private static readonly MatMulAutotuneOptions Quick = new() { BatchSizes = [1, 8, 64], ModelBudget = TimeSpan.FromMilliseconds(120) };

    [Fact]
    public void A_model_chosen_for_again_keeps_its_one_thread_plans()
    {
        var model = RandomModel.Create(16, [48, 40], 1, HeadActivation.Sigmoid, seed: 31);
        var options = Quick with { };
        var first = AutoMatMulPolicy.Choose(model, 1, options);
        var again = AutoMatMulPolicy.Choose(model, 1, options);

        Assert.Equal(first.Choices, again.Choices);
        for (var i = 0; i < model.Layers.Count; i++) Assert.Same(first.Layers[i], again.Layers[i]);
        Assert.Same(first.Head, again.Head);
    }

    [Fact]
    public void With_two_threads_every_row_count_below_the_split_runs_on_the_one_thread_plans_backend()
    {
        var model = RandomModel.Create(16, [48, 40], 1, HeadActivation.Sigmoid, seed: 32);
        var options = Quick with { };
        var one = AutoMatMulPolicy.Choose(model, 1, options);
        var two = AutoMatMulPolicy.Choose(model, 2, options);

        var oneMatrices = one.Layers.Append(one.Head!).Cast<TunedMatMul>().ToArray();
        var twoMatrices = two.Layers.Append(two.Head!).Cast<TunedMatMul>().ToArray();
        var pool = twoMatrices.SelectMany(t => t.Plan.Backends).OfType<ManagedMatMul>().Distinct().SingleOrDefault(m => m.Threads > 1);
        for (var i = 0; i < oneMatrices.Length; i++)
        {
            // A layer's rows from the measured limit on are split over the pool's threads; the head is never split.
            var from = i < model.Layers.Count && pool?.SplitFromRows(model.Layers[i].ConcatSize, model.Layers[i].GateWidth) is { } limit ? limit : int.MaxValue;
            foreach (var rows in new[] { 1, 2, 5, 8, 22, 23, 64, 181, 182, 1000, 5000 }.Where(r => r < from))
            {
                var expected = oneMatrices[i].Plan.BackendFor(rows);
                var actual = twoMatrices[i].Plan.BackendFor(rows);
                // A layer below its limit runs on the one-thread plan's very backend; the head's managed rows go to the
                // pool, which splits a multiply by its size alone (never this narrow head's).
                if (i == model.Layers.Count && expected is ManagedMatMul { Threads: 1 }) Assert.Same(pool, actual);
                else Assert.Same(expected, actual);
            }
        }
    }

    [Fact]
    public void With_two_threads_a_step_below_the_split_runs_as_with_one_thread_and_wakes_no_worker()
    {
        var model = RandomModel.Create(16, [48, 40], 1, HeadActivation.Sigmoid, seed: 34);
        var options = Quick with { };
        var one = AutoMatMulPolicy.Choose(model, 1, options);
        var two = AutoMatMulPolicy.Choose(model, 2, options);
        var pool = two.Layers.Append(two.Head!).Cast<TunedMatMul>().SelectMany(t => t.Plan.Backends).OfType<ManagedMatMul>().Distinct().SingleOrDefault(m => m.Threads > 1);
        var random = new Random(5);
        for (var i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var from = pool?.SplitFromRows(layer.ConcatSize, layer.GateWidth) ?? int.MaxValue;
            foreach (var rows in new[] { 1, 2, 64 }.Where(r => r < from))
            {
                var xh = ReferenceLstmCell.RandomValues(random, rows * layer.ConcatSize);
                var c0 = ReferenceLstmCell.RandomValues(random, rows * layer.CellSize);
                var splitsBefore = pool?.SplitCalls ?? 0;
                var (hOne, cOne) = ReferenceLstmCell.StepFromCopy(layer, one.Layers[i], rows, xh, c0);
                var (hTwo, cTwo) = ReferenceLstmCell.StepFromCopy(layer, two.Layers[i], rows, xh, c0);
                Assert.Equal(splitsBefore, pool?.SplitCalls ?? 0);
                var plans = $"layer {i}, {rows} row(s): one thread {string.Join("; ", one.Choices)}; two {string.Join("; ", two.Choices)}";
                Assert.True(hOne.AsSpan().SequenceEqual(hTwo), $"h differs, {plans}");
                Assert.True(cOne.AsSpan().SequenceEqual(cTwo), $"c differs, {plans}");
            }
        }
    }

    [Fact]
    public void Other_options_tune_anew()
    {
        var model = RandomModel.Create(8, [24], seed: 33);
        var first = AutoMatMulPolicy.Choose(model, 1, Quick with { });
        var other = AutoMatMulPolicy.Choose(model, 1, Quick with { Seed = 7 });

        Assert.NotSame(first.Layers[0], other.Layers[0]);
        // Each tuning creates its own backends to choose among.
        Assert.NotSame(((TunedMatMul)first.Layers[0]).Plan.BackendFor(1), ((TunedMatMul)other.Layers[0]).Plan.BackendFor(1));
    }
}
