using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

/// <summary>
/// The fused layer step (multiply and cell update tile by tile, split over threads) against the unfused one
/// (whole-batch multiply, then the update): bitwise the same c and h for every option, vector width, cell size
/// (whole and partial unit blocks), row count (tile remainders, row and block splits) and thread count.
/// </summary>
public class FusedLayerStepTests
{
    /// <summary>The managed kernel behind an interface the layer kernel does not recognize, so it takes the unfused path.</summary>
    private sealed class Opaque(IMatMulBackend inner) : IMatMulBackend
    {
        public string Name => "opaque " + inner.Name;

        public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns) => inner.Pack(b, rows, columns);

        public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c) =>
            inner.Multiply(a, m, b, bias, c);
    }

    public static IEnumerable<object[]> Cases() =>
        from bits in new[] { 512, 256, 128 }
        from threads in new[] { 1, 2 }
        from variant in new[] { "basic", "peepholes + cell clip", "gate clip + input forget", "projection + clip" }
        select new object[] { bits, threads, variant };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_steps_equal_unfused_steps_bitwise(int bits, int threads, string variant)
    {
        var rng = new Random(bits + 7 * threads + variant.Length);
        using var managed = new ManagedMatMul(threads, bits);
        foreach (var (inputs, cells) in new[] { (16, 16), (5, 20), (9, 33), (16, 128), (30, 100) })
        {
            var layer = variant switch
            {
                "basic" => ReferenceLstmCell.RandomLayer(rng, inputs, cells, scale: 3f),
                "peepholes + cell clip" => ReferenceLstmCell.RandomLayer(rng, inputs, cells, peepholes: true, cellClip: 0.6f, scale: 3f),
                "gate clip + input forget" => ReferenceLstmCell.RandomLayer(rng, inputs, cells, gateClip: 0.8f, inputForget: true, scale: 3f),
                _ => ReferenceLstmCell.RandomLayer(rng, inputs, cells, peepholes: true, projectionSize: 11, projectionClip: 0.4f, scale: 3f),
            };
            var fused = new LstmLayerKernel(layer, managed, bits);
            var unfused = new LstmLayerKernel(layer, new Opaque(managed), bits);
            foreach (var rows in new[] { 1, 5, 6, 7, 13, 64, 130, 700 })
            {
                Assert.True(fused.IsFusedFor(rows), $"{bits}-bit cells {cells} rows {rows}: not fused");
                Assert.False(unfused.IsFusedFor(rows));
                var what = $"{bits}-bit {threads} thread(s) {variant} in {inputs} cells {cells} rows {rows}";
                var c1 = ReferenceLstmCell.RandomValues(rng, rows * cells, 2f);
                var c2 = (float[])c1.Clone();
                var h1 = ReferenceLstmCell.RandomValues(rng, rows * layer.OutputSize);
                var h2 = (float[])h1.Clone();
                for (var step = 0; step < 3; step++)
                {
                    var x = ReferenceLstmCell.RandomValues(rng, rows * inputs, 2f);
                    fused.Step(rows, Concat(x, h1, rows, inputs, layer.OutputSize), c1, h1);
                    unfused.Step(rows, Concat(x, h2, rows, inputs, layer.OutputSize), c2, h2);
                    Assert.True(c1.AsSpan().SequenceEqual(c2), $"{what} step {step}: c differs");
                    Assert.True(h1.AsSpan().SequenceEqual(h2), $"{what} step {step}: h differs");
                }

                Assert.Contains(h1, v => v != 0f);
            }
        }
    }

    [Fact]
    public void Narrow_cells_and_foreign_backends_take_the_unfused_path()
    {
        var rng = new Random(3);
        var narrow = ReferenceLstmCell.RandomLayer(rng, 6, 4);
        Assert.False(new LstmLayerKernel(narrow, new ManagedMatMul(1, 512), 512).IsFusedFor(64));
        var wide = ReferenceLstmCell.RandomLayer(rng, 6, 32);
        // The update's vector width must be the managed kernel's: otherwise the multiply alone is the managed one.
        Assert.False(new LstmLayerKernel(wide, new ManagedMatMul(1, 256), 512).IsFusedFor(64));
        Assert.True(new LstmLayerKernel(wide, new ManagedMatMul(1, 256), 256).IsFusedFor(64));
    }

    private static float[] Concat(float[] x, float[] h, int rows, int inputs, int outputs)
    {
        var xh = new float[rows * (inputs + outputs)];
        for (var r = 0; r < rows; r++)
        {
            x.AsSpan(r * inputs, inputs).CopyTo(xh.AsSpan(r * (inputs + outputs)));
            h.AsSpan(r * outputs, outputs).CopyTo(xh.AsSpan(r * (inputs + outputs) + inputs));
        }

        return xh;
    }
}
