using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

public class LstmLayerKernelTests
{
    public sealed record Variant(string Name, bool Peepholes = false, float? CellClip = null, float? GateClip = null,
        bool InputForget = false, int Projection = 0, float? ProjectionClip = null)
    {
        public override string ToString() => Name;
    }

    private static readonly Variant[] Variants =
    [
        new("basic"),
        new("peepholes", Peepholes: true),
        new("cell clip", Peepholes: true, CellClip: 0.4f),
        new("gate clip", GateClip: 0.7f),
        new("gate clip + peepholes", Peepholes: true, GateClip: 1.1f),
        new("input forget", InputForget: true),
        new("input forget + peepholes + clip", Peepholes: true, GateClip: 0.9f, InputForget: true),
        new("projection", Projection: 3),
        new("projection + proj clip + peepholes + cell clip", Peepholes: true, CellClip: 0.5f, Projection: 7, ProjectionClip: 0.3f),
    ];

    public static IEnumerable<object[]> Cases() =>
        from bits in new[] { 512, 256, 128 }
        from v in Variants
        select new object[] { bits, v };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Steps_match_the_double_reference_across_sizes(int bits, Variant variant)
    {
        var rng = new Random(bits * 31 + variant.Name.Length);
        var backend = new ManagedMatMul(1, bits);
        foreach (var (inputs, cells) in new[] { (6, 4), (4, 5), (3, 1), (2, 7), (5, 8), (7, 16), (9, 17), (5, 33), (12, 64), (16, 100) })
        {
            var layer = ReferenceLstmCell.RandomLayer(rng, inputs, cells, variant.Peepholes, variant.CellClip, variant.GateClip,
                variant.InputForget, variant.Projection, variant.ProjectionClip, scale: 3f);
            var kernel = new LstmLayerKernel(layer, backend, bits);
            foreach (var rows in new[] { 1, 3, 7, 13 })
            {
                RunSteps(kernel, layer, rng, rows, steps: 4, $"{bits}-bit {variant} in {inputs} cells {cells} rows {rows}");
            }
        }
    }

    [Fact]
    public void Clips_and_input_forget_really_change_the_result()
    {
        // Guards against a reference and a kernel that would both ignore an option.
        var rng = new Random(5);
        var plain = ReferenceLstmCell.RandomLayer(rng, 5, 6, peepholes: true, scale: 6f);
        LstmLayer With(float? cellClip = null, float? gateClip = null, bool inputForget = false) => new(
            5, 6, plain.Kernel, plain.Bias, plain.PeepholeInput, plain.PeepholeForget, plain.PeepholeOutput, cellClip, gateClip, inputForget);
        var x = ReferenceLstmCell.RandomValues(rng, 5, 2f);
        var c = ReferenceLstmCell.RandomValues(rng, 6, 2f);
        var h = ReferenceLstmCell.RandomValues(rng, 6);
        float[] Run(LstmLayer layer)
        {
            var kernel = new LstmLayerKernel(layer, new ManagedMatMul());
            var cc = (float[])c.Clone();
            var outH = new float[6];
            kernel.Step(1, [.. x, .. h], cc, outH);
            return [.. outH, .. cc];
        }

        var baseline = Run(plain);
        Assert.NotEqual(baseline, Run(With(cellClip: 0.1f)));
        Assert.NotEqual(baseline, Run(With(gateClip: 0.2f)));
        Assert.NotEqual(baseline, Run(With(inputForget: true)));
    }

    [Fact]
    public void Step_checks_buffer_sizes()
    {
        var layer = ReferenceLstmCell.RandomLayer(new Random(1), 3, 4);
        var kernel = new LstmLayerKernel(layer, new ManagedMatMul());
        var e = Assert.Throws<ArgumentException>(() => kernel.Step(2, new float[13], new float[8], new float[8]));
        Assert.Contains("ConcatSize", e.Message);
        Assert.Throws<ArgumentException>(() => kernel.Step(2, new float[14], new float[7], new float[8]));
        Assert.Throws<ArgumentException>(() => kernel.Step(2, new float[14], new float[8], new float[7]));
    }

    private static void RunSteps(LstmLayerKernel kernel, LstmLayer layer, Random rng, int rows, int steps, string what)
    {
        int inputs = layer.InputSize, cells = layer.CellSize, outs = layer.OutputSize, concat = layer.ConcatSize;
        var c = ReferenceLstmCell.RandomValues(rng, rows * cells, 2f);
        var h = ReferenceLstmCell.RandomValues(rng, rows * outs);
        var refC = Enumerable.Range(0, rows).Select(r => c.Skip(r * cells).Take(cells).Select(v => (double)v).ToArray()).ToArray();
        var refH = Enumerable.Range(0, rows).Select(r => h.Skip(r * outs).Take(outs).Select(v => (double)v).ToArray()).ToArray();
        var xh = new float[rows * concat];
        var newH = new float[rows * outs];
        for (var t = 0; t < steps; t++)
        {
            var x = ReferenceLstmCell.RandomValues(rng, rows * inputs, 2f);
            for (var r = 0; r < rows; r++)
            {
                x.AsSpan(r * inputs, inputs).CopyTo(xh.AsSpan(r * concat));
                h.AsSpan(r * outs, outs).CopyTo(xh.AsSpan(r * concat + inputs));
                // The reference continues from the kernel's own float state, so each step is checked on its own.
                var (hr, cr) = ReferenceLstmCell.Step(layer,
                    x.Skip(r * inputs).Take(inputs).Select(v => (double)v).ToArray(),
                    h.Skip(r * outs).Take(outs).Select(v => (double)v).ToArray(),
                    c.Skip(r * cells).Take(cells).Select(v => (double)v).ToArray());
                refH[r] = hr;
                refC[r] = cr;
            }

            kernel.Step(rows, xh, c, newH);
            for (var r = 0; r < rows; r++)
            {
                for (var u = 0; u < cells; u++) Near(refC[r][u], c[r * cells + u], $"{what} step {t} c[{r},{u}]");
                for (var p = 0; p < outs; p++) Near(refH[r][p], newH[r * outs + p], $"{what} step {t} h[{r},{p}]");
            }

            newH.CopyTo(h, 0);
        }
    }

    private static void Near(double expected, float actual, string what)
    {
        if (!(Math.Abs(actual - expected) <= 2e-6 + 2e-6 * Math.Abs(expected)))
            Assert.Fail($"{what}: {actual}, expected {expected} (difference {actual - expected:E2})");
    }
}
