using System.Runtime.Intrinsics;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

/// <summary>
/// The fused cell update on its own, against the scalar double formulas, for every vector width and for unit counts
/// around the vector boundaries: none, one or several whole vectors, with or without a masked last one.
/// </summary>
public class LstmCellUpdateTests
{
    public sealed record Options(string Name, bool Peepholes = false, float? GateClip = null, float? CellClip = null, bool InputForget = false)
    {
        public override string ToString() => Name;
    }

    private static readonly Options[] Variants =
    [
        new("basic"),
        new("peepholes", Peepholes: true),
        new("clips + peepholes", Peepholes: true, GateClip: 1.3f, CellClip: 0.8f),
        new("input forget", InputForget: true),
        new("input forget + peepholes + gate clip", Peepholes: true, GateClip: 2f, InputForget: true),
    ];

    public static IEnumerable<object[]> Cases() =>
        from bits in new[] { 512, 256, 128 }
        from o in Variants
        select new object[] { bits, o };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_double_formulas_and_writes_only_count_units(int bits, Options options)
    {
        int lanes = bits / 32;
        var rng = new Random(bits + options.Name.Length);
        foreach (var count in new[] { 1, lanes - 1, lanes, lanes + 1, 2 * lanes, 3 * lanes + 2, 8 * lanes, 8 * lanes + lanes - 1 }.Where(n => n > 0).Distinct())
        {
            var gates = new Gates(rng, count, lanes, scale: 6f);
            var c = gates.CPrev.ToArray();
            var m = Sentinels(count + lanes);
            Run(bits, options, gates, c, m, count);
            for (var u = 0; u < count; u++)
            {
                var (cRef, mRef) = Reference(options, gates, u);
                Near(cRef, c[u], $"{bits}-bit {options} count {count} c[{u}]");
                Near(mRef, m[u], $"{bits}-bit {options} count {count} m[{u}]");
            }

            for (var u = count; u < count + lanes; u++)
            {
                Assert.Equal(gates.CPrev[u], c[u]);
                Assert.Equal(-7f, m[u]);
            }
        }
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Nan_and_infinite_gate_inputs_give_the_limits_or_nan(int bits)
    {
        const float inf = float.PositiveInfinity;
        var gates = new Gates(new Random(3), 6, bits / 32, scale: 1f);
        // unit 0: z_j NaN; 1: z_o NaN; 2: i open, f closed, g = 1; 3: o shut; 4: g = −1 with i open, f closed; 5: c_prev NaN.
        gates.Zj[0] = float.NaN;
        gates.Zo[1] = float.NaN;
        (gates.Zi[2], gates.Zf[2], gates.Zj[2], gates.Zo[2]) = (inf, -inf, inf, inf);
        gates.Zo[3] = -inf;
        (gates.Zi[4], gates.Zf[4], gates.Zj[4], gates.Zo[4]) = (inf, -inf, -inf, inf);
        gates.CPrev[5] = float.NaN;
        var c = gates.CPrev.ToArray();
        var m = Sentinels(c.Length);
        Run(bits, new Options("basic"), gates, c, m, 6);
        Assert.True(float.IsNaN(c[0]) && float.IsNaN(m[0]), $"z_j NaN: c {c[0]}, m {m[0]}");
        Assert.False(float.IsNaN(c[1]), $"z_o NaN: c {c[1]}");
        Assert.True(float.IsNaN(m[1]), $"z_o NaN: m {m[1]}");
        Assert.Equal(1f, c[2], 1e-6f);
        Assert.Equal(Math.Tanh(1), m[2], 1e-6);
        Assert.True(Math.Abs(m[3]) < 1e-26, $"o shut: m {m[3]}");
        Assert.Equal(-1f, c[4], 1e-6f);
        Assert.Equal(Math.Tanh(-1), m[4], 1e-6);
        Assert.True(float.IsNaN(c[5]) && float.IsNaN(m[5]), $"c_prev NaN: c {c[5]}, m {m[5]}");
    }

    /// <summary>Gate pre-activations and state for <c>count</c> units, with one vector of padding after them.</summary>
    private sealed class Gates
    {
        public Gates(Random rng, int count, int lanes, float scale)
        {
            int n = count + lanes;
            Zi = ReferenceLstmCell.RandomValues(rng, n, scale);
            Zj = ReferenceLstmCell.RandomValues(rng, n, scale);
            Zf = ReferenceLstmCell.RandomValues(rng, n, scale);
            Zo = ReferenceLstmCell.RandomValues(rng, n, scale);
            CPrev = ReferenceLstmCell.RandomValues(rng, n, 3f);
            Pi = ReferenceLstmCell.RandomValues(rng, n);
            Pf = ReferenceLstmCell.RandomValues(rng, n);
            Po = ReferenceLstmCell.RandomValues(rng, n);
        }

        public float[] Zi { get; }
        public float[] Zj { get; }
        public float[] Zf { get; }
        public float[] Zo { get; }
        public float[] CPrev { get; }
        public float[] Pi { get; }
        public float[] Pf { get; }
        public float[] Po { get; }
    }

    private static float[] Sentinels(int length) => Enumerable.Repeat(-7f, length).ToArray();

    private static (double C, double M) Reference(Options o, Gates g, int u)
    {
        double Clip(double v) => o.GateClip is { } k ? Math.Clamp(v, -(double)k, k) : v;
        double cPrev = g.CPrev[u];
        double zi = g.Zi[u], zf = g.Zf[u], zo = g.Zo[u];
        if (o.Peepholes)
        {
            zi += (double)g.Pi[u] * cPrev;
            zf += (double)g.Pf[u] * cPrev;
        }

        double i = ReferenceLstmCell.Sigmoid(Clip(zi));
        double f = o.InputForget ? 1 - i : ReferenceLstmCell.Sigmoid(Clip(zf));
        double c = f * cPrev + i * Math.Tanh(Clip(g.Zj[u]));
        if (o.CellClip is { } cc) c = Math.Clamp(c, -(double)cc, cc);
        if (o.Peepholes) zo += (double)g.Po[u] * c;
        return (c, ReferenceLstmCell.Sigmoid(Clip(zo)) * Math.Tanh(c));
    }

    private static void Near(double expected, float actual, string what)
    {
        if (!(Math.Abs(actual - expected) <= 2e-6 + 2e-6 * Math.Abs(expected)))
            Assert.Fail($"{what}: {actual}, expected {expected} (difference {actual - expected:E2})");
    }

    private static unsafe void Run(int bits, Options o, Gates g, float[] c, float[] m, int count)
    {
        var options = new CellOptions(o.Peepholes, o.GateClip, o.CellClip, o.InputForget);
        fixed (float* zi = g.Zi)
        fixed (float* zj = g.Zj)
        fixed (float* zf = g.Zf)
        fixed (float* zo = g.Zo)
        fixed (float* pc = c)
        fixed (float* pm = m)
        fixed (float* pi = g.Pi)
        fixed (float* pf = g.Pf)
        fixed (float* po = g.Po)
        {
            switch (bits)
            {
                case 512: LstmCellUpdate.Run<Simd512, Vector512<float>>(options, zi, zj, zf, zo, pc, pm, pi, pf, po, count); break;
                case 256: LstmCellUpdate.Run<Simd256, Vector256<float>>(options, zi, zj, zf, zo, pc, pm, pi, pf, po, count); break;
                default: LstmCellUpdate.Run<Simd128, Vector128<float>>(options, zi, zj, zf, zo, pc, pm, pi, pf, po, count); break;
            }
        }
    }
}
