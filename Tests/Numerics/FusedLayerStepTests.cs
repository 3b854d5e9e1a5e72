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
    /// <summary>The managed kernel behind a backend that offers no fused step (the interface's default capability), so the layer takes the unfused path.</summary>
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

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void C_rows_read_and_written_by_index_equal_contiguous_c(int threads)
    {
        // A state arena passes its whole c block and the batch's slots: fused and unfused paths, narrow cells too.
        var rng = new Random(17 + threads);
        using var managed = new ManagedMatMul(threads);
        foreach (var (inputs, cells) in new[] { (6, 4), (16, 128), (9, 33) })
        {
            var layer = ReferenceLstmCell.RandomLayer(rng, inputs, cells, peepholes: true, scale: 3f);
            foreach (var backend in new IMatMulBackend[] { managed, new Opaque(managed) })
            {
                var kernel = new LstmLayerKernel(layer, backend);
                foreach (var rows in new[] { 1, 7, 300 })
                {
                    var tableRows = rows * 2 + 3;
                    var table = ReferenceLstmCell.RandomValues(rng, tableRows * cells, 2f);
                    var index = Enumerable.Range(0, tableRows).OrderBy(_ => rng.Next()).Take(rows).ToArray();
                    var c = index.SelectMany(i => table.Skip(i * cells).Take(cells)).ToArray();
                    var xh = ReferenceLstmCell.RandomValues(rng, rows * layer.ConcatSize, 2f);
                    var before = (float[])table.Clone();
                    var h1 = new float[rows * cells];
                    var h2 = new float[rows * cells];

                    kernel.Step(rows, xh, c, h1);
                    kernel.Step(rows, xh, table, index, h2);

                    var what = $"{backend.Name} {threads} thread(s) cells {cells} rows {rows}";
                    Assert.True(h1.AsSpan().SequenceEqual(h2), $"{what}: h differs");
                    for (var t = 0; t < tableRows; t++)
                    {
                        var at = Array.IndexOf(index, t);
                        var expected = at >= 0 ? c.AsSpan(at * cells, cells) : before.AsSpan(t * cells, cells);
                        Assert.True(expected.SequenceEqual(table.AsSpan(t * cells, cells)), $"{what}: table row {t} (batch row {at})");
                    }
                }

                var e = Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Step(2, new float[2 * layer.ConcatSize], new float[3 * cells], [1, 3], new float[2 * cells]));
                Assert.Contains("cRowIndex[1] = 3", e.Message);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Stepping_in_place_in_state_tables_equals_stepping_gathered_rows(int threads)
    {
        // With 2 threads: 300 and 700 rows split by rows of 64 (each part writes back its own chunks' h), 64 rows in
        // four row ranges of 16; 1 and 7 rows on one thread, except for the 32 x 256 layer, whose weights (over 1 MB)
        // split even one row, by unit blocks (h written back after the step); projection and narrow cells take the
        // gathering fallback.
        var rng = new Random(29 + threads);
        using var managed = new ManagedMatMul(threads);
        foreach (var (inputs, cells, projection) in new[] { (6, 4, 0), (16, 128, 0), (32, 256, 0), (9, 33, 0), (12, 40, 9) })
        {
            var layer = ReferenceLstmCell.RandomLayer(rng, inputs, cells, peepholes: true, projectionSize: projection, scale: 3f);
            int outs = layer.OutputSize;
            foreach (var backend in new IMatMulBackend[] { managed, new Opaque(managed) })
            {
                var kernel = new LstmLayerKernel(layer, backend);
                var reference = new LstmLayerKernel(layer, backend);
                foreach (var rows in new[] { 1, 7, 64, 300, 700 })
                {
                    var tableRows = rows * 2 + 3;
                    var hTable = ReferenceLstmCell.RandomValues(rng, tableRows * outs);
                    var cTable = ReferenceLstmCell.RandomValues(rng, tableRows * cells, 2f);
                    var index = Enumerable.Range(0, tableRows).OrderBy(_ => rng.Next()).Take(rows).ToArray();
                    var x = ReferenceLstmCell.RandomValues(rng, rows * inputs, 2f);
                    var xh = new float[rows * layer.ConcatSize];
                    var c = new float[rows * cells];
                    for (var r = 0; r < rows; r++)
                    {
                        x.AsSpan(r * inputs, inputs).CopyTo(xh.AsSpan(r * layer.ConcatSize));
                        hTable.AsSpan(index[r] * outs, outs).CopyTo(xh.AsSpan(r * layer.ConcatSize + inputs));
                        cTable.AsSpan(index[r] * cells, cells).CopyTo(c.AsSpan(r * cells));
                    }

                    var hBefore = (float[])hTable.Clone();
                    var cBefore = (float[])cTable.Clone();
                    var expectedH = new float[rows * outs];
                    reference.Step(rows, xh, c, expectedH);
                    var h = new float[rows * outs];
                    kernel.StepInPlace(rows, x, hTable, cTable, index, h);

                    var what = $"{backend.Name} {threads} thread(s) cells {cells} proj {projection} rows {rows}";
                    Assert.True(expectedH.AsSpan().SequenceEqual(h), $"{what}: h differs");
                    for (var t = 0; t < tableRows; t++)
                    {
                        var at = Array.IndexOf(index, t);
                        var wantH = at >= 0 ? expectedH.AsSpan(at * outs, outs) : hBefore.AsSpan(t * outs, outs);
                        var wantC = at >= 0 ? c.AsSpan(at * cells, cells) : cBefore.AsSpan(t * cells, cells);
                        Assert.True(wantH.SequenceEqual(hTable.AsSpan(t * outs, outs)), $"{what}: h table row {t} (batch row {at})");
                        Assert.True(wantC.SequenceEqual(cTable.AsSpan(t * cells, cells)), $"{what}: c table row {t} (batch row {at})");
                    }
                }

                Assert.Throws<ArgumentOutOfRangeException>(() => kernel.StepInPlace(1, new float[inputs], new float[2 * outs], new float[2 * cells], [2], new float[outs]));
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
