using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
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
        var tuned = new MatMulAutotuner([managed], options).TuneLayer(layer, TimeSpan.FromSeconds(5));
        var from = managed.SplitFromRows(layer.ConcatSize, layer.GateWidth);
        Assert.NotNull(from);
        Assert.Contains(from == int.MaxValue ? "managed on one thread" : $"managed split over threads from {from} rows", tuned.Description);
        Assert.False(managed.SerialOnly);
        Assert.Equal(3, tuned.Timings.Count);
        Assert.All(tuned.Timings, t => Assert.Equal("managed", t.Backend));
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
