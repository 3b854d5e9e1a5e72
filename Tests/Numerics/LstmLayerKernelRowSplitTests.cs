using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Tests.Numerics;

/// <summary>The unfused step of a layer narrower than a vector, split by rows over a managed backend's threads.</summary>
public class LstmLayerKernelRowSplitTests
{
    public static IEnumerable<object[]> Widths() => new[] { 512, 256, 128 }.Select(bits => new object[] { bits });

    [Theory]
    [MemberData(nameof(Widths))]
    public void Narrow_layers_split_by_rows_give_the_bits_of_one_thread(int bits)
    {
        var rng = new Random(bits);
        using var one = new ManagedMatMul(1, bits);
        using var two = new ManagedMatMul(2, bits);
        foreach (var (inputs, cells, peepholes) in new[] { (10, 4, false), (9, 5, true), (6, 3, true) })
        {
            var layer = ReferenceLstmCell.RandomLayer(rng, inputs, cells, peepholes: peepholes, cellClip: peepholes ? 0.7f : null, scale: 3f);
            var alone = new LstmLayerKernel(layer, one, bits);
            var split = new LstmLayerKernel(layer, two, bits);
            foreach (var rows in new[] { 1, 130, 4099 })
            {
                var what = $"{bits}-bit in {inputs} cells {cells} rows {rows}";
                Assert.False(alone.SplitsRowsFor(rows), what);
                // The size rule alone decides here (nothing measured for the shape): large batches of a layer narrower
                // than a vector (a cell of 4 or 5 is a vector or more with 128-bit vectors: fused, split by its own rules).
                Assert.Equal(rows == 4099 && cells < bits / 32, split.SplitsRowsFor(rows));
                // c by index, in reverse slot order, as a state arena passes it.
                var index = Enumerable.Range(0, rows).Reverse().ToArray();
                var c1 = ReferenceLstmCell.RandomValues(rng, rows * cells, 2f);
                var c2 = (float[])c1.Clone();
                var h1 = new float[rows * cells];
                var h2 = new float[rows * cells];
                for (var step = 0; step < 3; step++)
                {
                    var xh = ReferenceLstmCell.RandomValues(rng, rows * layer.ConcatSize, 2f);
                    alone.Step(rows, xh, c1, index, h1);
                    split.Step(rows, xh, c2, index, h2);
                    Assert.True(c1.AsSpan().SequenceEqual(c2), $"{what} step {step}: c differs");
                    Assert.True(h1.AsSpan().SequenceEqual(h2), $"{what} step {step}: h differs");
                }

                Assert.Contains(h1, v => v != 0f);
            }
        }
    }

    [Fact]
    public void The_row_split_follows_the_size_rule_and_the_measured_limit_of_the_shape()
    {
        // Parts: two per thread of at least 64 rows, from the size rule's threshold (the multiply's and the update's work).
        var work = LstmLayerKernel.RowPartWork(10, 16, 4);
        var smallest = (int)((ManagedMatMul.ParallelThreshold + work - 1) / work);
        Assert.Equal(1, LstmLayerKernel.RowParts(smallest - 1, 2, 10, 16, 4));
        Assert.Equal(4, LstmLayerKernel.RowParts(smallest, 2, 10, 16, 4));
        Assert.Equal(1, LstmLayerKernel.RowParts(100_000, 1, 10, 16, 4));
        Assert.Equal(8, LstmLayerKernel.RowParts(100_000, 4, 10, 16, 4));

        using var pool = new ManagedMatMul(2, 256);
        var layer = ReferenceLstmCell.RandomLayer(new Random(5), 6, 4);
        var kernel = new LstmLayerKernel(layer, pool, 256);
        Assert.True(kernel.SplitsRowsFor(8192));
        // What the autotuner measured for the shape decides from then on: never, or from its limit.
        pool.SetSplitFromRows(layer.ConcatSize, layer.GateWidth, int.MaxValue);
        Assert.False(kernel.SplitsRowsFor(8192));
        pool.SetSplitFromRows(layer.ConcatSize, layer.GateWidth, 10_000);
        Assert.False(kernel.SplitsRowsFor(8192));
        Assert.True(kernel.SplitsRowsFor(10_000));
        pool.SerialOnly = true;
        Assert.False(kernel.SplitsRowsFor(10_000));
        pool.SerialOnly = false;

        // Through an auto plan: only the rows the plan sends to the pool are split.
        var one = new ManagedMatMul(1, 256);
        var plan = new TunedMatMul(new MatMulDispatchPlan([new MatMulDispatchRange(9_999, one), new MatMulDispatchRange(int.MaxValue, pool)]));
        var planned = new LstmLayerKernel(layer, plan, 256);
        Assert.False(planned.SplitsRowsFor(9_999));
        Assert.True(planned.SplitsRowsFor(10_000));
    }
}
