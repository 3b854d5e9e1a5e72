using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Native;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Tests.Numerics.Selection;

/// <summary>
/// Where a managed backend with several threads splits a step: from the row count that the autotuner measured the
/// split to pay at (and at every larger one), on the calling thread alone below it; the results are the same bits.
/// </summary>
public class ManagedThreadSplitTests
{
    [Fact]
    public void The_split_starts_where_it_beats_one_thread_at_every_larger_row_count()
    {
        int[] sizes = [1, 8, 64, 512, 4096];
        // Splitting pays from 64 rows on: the limit lies between 8 and 64 (the geometric middle, 22, is still alone).
        Assert.Equal(23, MatMulAutotuner.SplitFromRows(sizes, [(2.0, 1.0), (2.0, 1.0), (0.6, 1.0), (0.55, 1.0), (0.5, 1.0)], 0.03));
        // A win at 8 rows does not count when splitting loses at 64: from between 64 and 512 (the middle, 181, still alone).
        Assert.Equal(182, MatMulAutotuner.SplitFromRows(sizes, [(2.0, 1.0), (0.5, 1.0), (1.5, 1.0), (0.55, 1.0), (0.5, 1.0)], 0.03));
        // Winning within the margin is not winning; losing at the largest row count measured means never.
        Assert.Equal(int.MaxValue, MatMulAutotuner.SplitFromRows(sizes, [(0.5, 1.0), (0.5, 1.0), (0.5, 1.0), (0.5, 1.0), (0.98, 1.0)], 0.03));
        // Winning everywhere: from one row; only the row counts measured count (the budget may stop early).
        Assert.Equal(1, MatMulAutotuner.SplitFromRows(sizes, [(0.5, 1.0), (0.5, 1.0)], 0.03));
        Assert.Equal(int.MaxValue, MatMulAutotuner.SplitFromRows(sizes, [], 0.03));
        // Steps shorter than a worker's wake-up never start the split, however their timings fall: below 10 µs alone the
        // rows stay on one thread, from the first row count that is long enough and pays.
        Assert.Equal(23, MatMulAutotuner.SplitFromRows(sizes, [(0.3e-6, 0.35e-6), (1e-6, 1.2e-6), (7e-6, 12e-6), (53e-6, 61e-6), (253e-6, 597e-6)], 0.03));
        Assert.Equal(int.MaxValue, MatMulAutotuner.SplitFromRows(sizes, [(0.3e-6, 0.35e-6), (1e-6, 1.2e-6), (7e-6, 9e-6)], 0.03));
    }

    [Fact]
    public void A_split_rule_applies_to_its_own_matrix_shape_only()
    {
        using var managed = new ManagedMatMul(2);
        Assert.Null(managed.SplitFromRows(144, 512));
        Assert.True(managed.MaySplit(144, 512, 1));
        managed.SetSplitFromRows(144, 512, 100);
        Assert.Equal(100, managed.SplitFromRows(144, 512));
        Assert.False(managed.MaySplit(144, 512, 99));
        Assert.True(managed.MaySplit(144, 512, 100));
        Assert.True(managed.MaySplit(256, 512, 1));
        managed.SerialOnly = true;
        Assert.False(managed.MaySplit(144, 512, 4096));
        Assert.False(managed.MaySplit(256, 512, 4096));
    }

    [Fact]
    public void Tuning_a_layer_on_a_managed_backend_with_two_threads_records_where_its_split_starts()
    {
        using var managed = new ManagedMatMul(2);
        var layer = RandomModel.Create(16, [64]).Layers[0];
        var options = new MatMulAutotuneOptions { BatchSizes = [1, 64, 512], Repetitions = 2 };
        // A budget no run reaches even on a loaded machine (5 s was cut short under a load of 40: 2 timings of 3).
        var tuned = new MatMulAutotuner([managed], options).TuneLayer(layer, TimeSpan.FromMinutes(5));
        var from = managed.SplitFromRows(layer.ConcatSize, layer.GateWidth);
        Assert.NotNull(from);
        Assert.Contains(from == int.MaxValue ? "managed on one thread" : $"managed split over threads from {from} rows", tuned.Description);
        Assert.False(managed.SerialOnly);
        Assert.Equal(3, tuned.Timings.Count);
        Assert.All(tuned.Timings, t => Assert.Equal("managed", t.Backend));
    }

    [Fact]
    public void The_split_is_measured_up_to_a_row_count_large_enough_to_judge_it_whatever_the_budget()
    {
        using var managed = new ManagedMatMul(2);
        var layer = RandomModel.Create(16, [64]).Layers[0];
        var tuner = new MatMulAutotuner([managed], new MatMulAutotuneOptions { BatchSizes = [1, 8, 64], Repetitions = 2, ModelBudget = TimeSpan.FromTicks(1) });
        // Large enough at once: only the smallest row count; never large enough: every row count, split and alone.
        Assert.Equal([1], tuner.MeasureSplit(managed, layer, TimeSpan.Zero).Select(m => m.Rows));
        var all = tuner.MeasureSplit(managed, layer, TimeSpan.FromHours(1));
        Assert.Equal([1, 8, 64], all.Select(m => m.Rows));
        Assert.All(all, m => Assert.True(m.Split > 0 && m.Alone > 0, $"{m.Rows} rows: {m.Split} s split, {m.Alone} s alone"));
        Assert.False(managed.SerialOnly);
    }

    [Fact]
    public void With_several_threads_the_one_thread_plan_keeps_the_rows_below_the_split_and_the_pool_takes_the_rest()
    {
        using var one = new ManagedMatMul(1);
        using var pool = new ManagedMatMul(2);
        var other = new ManagedMatMul(1, 128);
        List<MatMulDispatchRange> plan = [new(16, one), new(300, other), new(int.MaxValue, one)];
        string Text(IReadOnlyList<MatMulDispatchRange> ranges) => string.Join(", ", ranges.Select(r => $"{r.MaxRows}:{(ReferenceEquals(r.Backend, pool) ? "pool" : ReferenceEquals(r.Backend, one) ? "one" : "other")}"));
        Assert.Equal("16:one, 181:other, 2147483647:pool", Text(AutoMatMulPolicy.SplitFrom(plan, 182, pool)));
        Assert.Equal("16:one, 300:other, 2147483647:pool", Text(AutoMatMulPolicy.SplitFrom(plan, 301, pool)));
        Assert.Equal("16:one, 300:other, 2147483647:one", Text(AutoMatMulPolicy.SplitFrom(plan, int.MaxValue, pool)));
        Assert.Equal("12:one, 2147483647:pool", Text(AutoMatMulPolicy.SplitFrom(plan, 13, pool)));
        Assert.Equal("2147483647:pool", Text(AutoMatMulPolicy.SplitFrom(plan, 1, pool)));
    }

    [Fact]
    public void Auto_with_two_threads_runs_one_thread_backends_below_the_split_and_only_the_managed_pool_above()
    {
        var model = RandomModel.Create(16, [96, 64], 1, HeadActivation.Sigmoid);
        var chosen = AutoMatMulPolicy.Choose(model, 2, new MatMulAutotuneOptions { BatchSizes = [1, 8, 64, 512], ModelBudget = TimeSpan.FromMilliseconds(150) });
        for (var i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var plan = ((TunedMatMul)chosen.Layers[i]).Plan;
            var pools = plan.Backends.OfType<ManagedMatMul>().Where(m => m.Threads > 1).ToArray();
            // One managed backend with two threads at most (shared by every layer), and every other backend on one thread.
            Assert.True(pools.Length <= 1, chosen.Choices[i]);
            Assert.All(plan.Backends.Except(pools), b => Assert.Equal(1, b switch { ManagedMatMul m => m.Threads, CblasMatMul c => c.Threads, OneDnnMatMul d => d.Threads, _ => 0 }));
            Assert.Contains(i == 0 ? "layer 0 [112x384]" : "layer 1 [160x256]", chosen.Choices[i]);
            // Below the limit the layer runs on the one-thread plan's backends; the pool takes only the rows from the limit on.
            var from = pools is [var managed] ? managed.SplitFromRows(layer.ConcatSize, layer.GateWidth) : null;
            if (from is { } limit && limit != int.MaxValue)
            {
                Assert.Contains($"managed split over 2 threads from {limit} rows", chosen.Choices[i]);
                // The rows from the limit on go to the pool and are split; the pool never splits fewer rows.
                Assert.Same(pools[0], plan.BackendFor(limit));
                Assert.Same(pools[0], plan.BackendFor(int.MaxValue));
                Assert.True(pools[0].MaySplit(layer.ConcatSize, layer.GateWidth, limit));
                Assert.False(pools[0].MaySplit(layer.ConcatSize, layer.GateWidth, limit - 1));
            }
            else
            {
                Assert.Contains("never split over 2 threads", chosen.Choices[i]);
                Assert.All(pools, p => Assert.False(p.MaySplit(layer.ConcatSize, layer.GateWidth, 1 << 20)));
            }
        }

        // Whatever was chosen steps like the managed kernel on one thread.
        var random = new Random(3);
        foreach (var rows in new[] { 1, 64, 700 })
        {
            var layer = model.Layers[0];
            var xh = ReferenceLstmCell.RandomValues(random, rows * layer.ConcatSize);
            var c0 = ReferenceLstmCell.RandomValues(random, rows * layer.CellSize);
            var (h1, c1) = ReferenceLstmCell.StepFromCopy(layer, chosen.Layers[0], rows, xh, c0);
            var (h2, c2) = ReferenceLstmCell.StepFromCopy(layer, new ManagedMatMul(), rows, xh, c0);
            for (var j = 0; j < h1.Length; j++) Assert.Equal(h2[j], h1[j], 1e-5f);
            for (var j = 0; j < c1.Length; j++) Assert.Equal(c2[j], c1[j], 1e-5f);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(40)]
    [InlineData(300)]
    public void Steps_below_and_above_the_split_limit_give_the_bits_of_one_thread(int rows)
    {
        var rng = new Random(rows);
        var layer = ReferenceLstmCell.RandomLayer(rng, 24, 96, scale: 2f);
        using var one = new ManagedMatMul(1);
        using var two = new ManagedMatMul(2);
        two.SetSplitFromRows(layer.ConcatSize, layer.GateWidth, 41);
        var xh = Enumerable.Range(0, rows * layer.ConcatSize).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();
        var c0 = Enumerable.Range(0, rows * layer.CellSize).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var (hOne, cOne) = ReferenceLstmCell.StepFromCopy(layer, one, rows, xh, c0);
        var (hTwo, cTwo) = ReferenceLstmCell.StepFromCopy(layer, two, rows, xh, c0);
        Assert.Equal(hOne, hTwo);
        Assert.Equal(cOne, cTwo);

        var packedOne = one.Pack(layer.Kernel, layer.ConcatSize, layer.GateWidth);
        var packedTwo = two.Pack(layer.Kernel, layer.ConcatSize, layer.GateWidth);
        var gatesOne = new float[rows * layer.GateWidth];
        var gatesTwo = new float[rows * layer.GateWidth];
        one.Multiply(xh, rows, packedOne, layer.Bias, gatesOne);
        two.Multiply(xh, rows, packedTwo, layer.Bias, gatesTwo);
        Assert.Equal(gatesOne, gatesTwo);
    }
}
