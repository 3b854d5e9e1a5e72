using System.Runtime.Intrinsics;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

/// <summary>The vector operations the activations and the cell update build on, on every vector width.</summary>
public class SimdOpsTests
{
    public static TheoryData<int> Widths => new() { 512, 256, 128 };

    [Theory]
    [MemberData(nameof(Widths))]
    public void Fms_and_fnma_are_fused(int bits) => ForWidth(bits, new FusedCheck());

    [Theory]
    [MemberData(nameof(Widths))]
    public void Clamp_bounds_values_and_keeps_nan(int bits) => ForWidth(bits, new ClampCheck());

    [Theory]
    [MemberData(nameof(Widths))]
    public void ScaleByPow2_and_Pow2_are_exact_over_the_exponent_range(int bits) => ForWidth(bits, new ScaleCheck());

    [Theory]
    [MemberData(nameof(Widths))]
    public void ReciprocalEstimate_is_within_its_bound(int bits) => ForWidth(bits, new ReciprocalCheck());

    [Theory]
    [MemberData(nameof(Widths))]
    public void Divide_is_the_rounded_quotient_and_the_avx512_forms_are_used_exactly_where_the_cpu_has_them(int bits) => ForWidth(bits, new DivideCheck(bits));

    [Theory]
    [MemberData(nameof(Widths))]
    public void Masked_load_and_store_touch_only_the_tail_lanes(int bits) => ForWidth(bits, new MaskCheck());

    private interface ICheck
    {
        void Run<TOps, TV>() where TOps : ISimdOps<TV> where TV : struct;
    }

    private static void ForWidth<TCheck>(int bits, TCheck check) where TCheck : ICheck
    {
        switch (bits)
        {
            case 512: check.Run<Simd512, Vector512<float>>(); break;
            case 256: check.Run<Simd256, Vector256<float>>(); break;
            default: check.Run<Simd128, Vector128<float>>(); break;
        }
    }

    /// <summary>Applies a lane-wise operation to arrays of any length, one vector at a time (the last one zero-padded).</summary>
    private static unsafe float[] Map<TOps, TV>(Func<TV, TV, TV, TV> op, float[] a, float[]? b = null, float[]? c = null)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes;
        var result = new float[a.Length];
        var pa = stackalloc float[16];
        var pb = stackalloc float[16];
        var pc = stackalloc float[16];
        var pr = stackalloc float[16];
        for (var i = 0; i < a.Length; i += lanes)
        {
            for (var l = 0; l < lanes; l++)
            {
                bool inside = i + l < a.Length;
                pa[l] = inside ? a[i + l] : 0f;
                pb[l] = inside && b is not null ? b[i + l] : 0f;
                pc[l] = inside && c is not null ? c[i + l] : 0f;
            }

            TOps.Store(pr, op(TOps.Load(pa), TOps.Load(pb), TOps.Load(pc)));
            for (var l = 0; l < lanes && i + l < a.Length; l++) result[i + l] = pr[l];
        }

        return result;
    }

    private static void Same(float expected, float actual, string what)
    {
        if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual) && !(float.IsNaN(expected) && float.IsNaN(actual)))
            Assert.Fail($"{what}: {actual:R}, expected {expected:R}");
    }

    private readonly struct FusedCheck : ICheck
    {
        public void Run<TOps, TV>() where TOps : ISimdOps<TV> where TV : struct
        {
            // (1 + 2⁻¹²)² = 1 + 2⁻¹¹ + 2⁻²⁴: a separate multiply rounds the 2⁻²⁴ away, a fused one keeps it.
            float a = 1f + MathF.ScaleB(1f, -12), c = 1f + MathF.ScaleB(1f, -11);
            var rng = new Random(1);
            var xs = new float[41];
            var ys = new float[41];
            var zs = new float[41];
            for (var i = 0; i < xs.Length; i++)
            {
                xs[i] = i == 0 ? a : (float)(rng.NextDouble() * 4 - 2);
                ys[i] = i == 0 ? a : (float)(rng.NextDouble() * 4 - 2);
                zs[i] = i == 0 ? c : (float)(rng.NextDouble() * 4 - 2);
            }

            var fms = Map<TOps, TV>((x, y, z) => TOps.Fms(x, y, z), xs, ys, zs);
            var fnma = Map<TOps, TV>((x, y, z) => TOps.Fnma(x, y, z), xs, ys, zs);
            Same(MathF.ScaleB(1f, -24), fms[0], "Fms((1 + 2⁻¹²)², 1 + 2⁻¹¹)");
            Same(-MathF.ScaleB(1f, -24), fnma[0], "Fnma((1 + 2⁻¹²)², 1 + 2⁻¹¹)");
            for (var i = 0; i < xs.Length; i++)
            {
                Same(MathF.FusedMultiplyAdd(xs[i], ys[i], -zs[i]), fms[i], $"Fms({xs[i]}, {ys[i]}, {zs[i]})");
                Same(MathF.FusedMultiplyAdd(-xs[i], ys[i], zs[i]), fnma[i], $"Fnma({xs[i]}, {ys[i]}, {zs[i]})");
            }
        }
    }

    private readonly struct ClampCheck : ICheck
    {
        public void Run<TOps, TV>() where TOps : ISimdOps<TV> where TV : struct
        {
            float[] xs = [-5f, -2f, -1.5f, -0f, 0f, 0.25f, 3f, 3.5f, 1e30f, -1e30f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN];
            float[] expected = [-2f, -2f, -1.5f, -0f, 0f, 0.25f, 3f, 3f, 3f, -2f, 3f, -2f, float.NaN, float.NaN];
            var clamped = Map<TOps, TV>((x, _, _) => TOps.Clamp(x, TOps.Broadcast(-2f), TOps.Broadcast(3f)), xs);
            for (var i = 0; i < xs.Length; i++) Same(expected[i], clamped[i], $"Clamp({xs[i]}, -2, 3)");
        }
    }

    private readonly struct ScaleCheck : ICheck
    {
        public void Run<TOps, TV>() where TOps : ISimdOps<TV> where TV : struct
        {
            var xs = new List<float>();
            var ns = new List<float>();
            var rng = new Random(2);
            for (var n = -126; n <= 127; n++)
            {
                // Mantissas of 1 up to 2, so that every product stays a normal float below 2¹²⁸.
                xs.Add(n == 127 ? 1.75f : (float)(1 + rng.NextDouble()) * (n % 2 == 0 ? 1 : -1));
                ns.Add(n);
            }

            xs.Add(0f);
            ns.Add(5f);
            xs.Add(-0f);
            ns.Add(-3f);
            // n + 1.5·2²³ + 127, as the activations get it (adding the shift to a value that rounds to n).
            var shifted = ns.Select(n => n + VectorActivations.ExponentShift).ToArray();
            var scaled = Map<TOps, TV>((x, n, t) => TOps.ScaleByPow2(x, n, t), [.. xs], [.. ns], shifted);
            var powers = Map<TOps, TV>((t, _, _) => TOps.Pow2(t), shifted);
            for (var i = 0; i < xs.Count; i++)
            {
                Same(MathF.ScaleB(xs[i], (int)ns[i]), scaled[i], $"ScaleByPow2({xs[i]}, {ns[i]})");
                Same(MathF.ScaleB(1f, (int)ns[i]), powers[i], $"Pow2({ns[i]} shifted)");
            }
        }
    }

    private readonly struct ReciprocalCheck : ICheck
    {
        public void Run<TOps, TV>() where TOps : ISimdOps<TV> where TV : struct
        {
            var rng = new Random(3);
            var ds = new float[4000];
            for (var i = 0; i < ds.Length; i++) ds[i] = (float)((rng.NextDouble() + 0.5) * Math.Pow(2, rng.Next(-100, 100))) * (i % 3 == 0 ? -1 : 1);
            var y = Map<TOps, TV>((d, _, _) => TOps.ReciprocalEstimate(d), ds);
            for (var i = 0; i < ds.Length; i++)
            {
                double error = Math.Abs(y[i] * (double)ds[i] - 1);
                if (!(error <= 1.5 * Math.Pow(2, -12))) Assert.Fail($"ReciprocalEstimate({ds[i]:R}) = {y[i]:R}, relative error {error:E2}");
            }

            // 1/d below the smallest normal float: a subnormal estimate or 0.
            var tiny = Map<TOps, TV>((d, _, _) => TOps.ReciprocalEstimate(d), [1.65e38f, -3e38f]);
            Assert.InRange(tiny[0], 0f, 6.1e-39f);
            Assert.InRange(tiny[1], -3.4e-39f, -0f);
        }
    }

    private readonly struct DivideCheck(int bits) : ICheck
    {
        public void Run<TOps, TV>() where TOps : ISimdOps<TV> where TV : struct
        {
            var rng = new Random(4);
            var a = new float[1000];
            var d = new float[1000];
            for (var i = 0; i < a.Length; i++)
            {
                a[i] = (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-60, 60)));
                d[i] = (float)((rng.NextDouble() + 1) * Math.Pow(2, rng.Next(0, 60)));
            }

            a[0] = -0f;
            var q = Map<TOps, TV>((x, y, _) => TOps.Divide(x, y), a, d);
            for (var i = 0; i < a.Length; i++) Assert.Equal(BitConverter.SingleToInt32Bits(a[i] / d[i]), BitConverter.SingleToInt32Bits(q[i]));
            // The 14-bit estimate and the scaling instruction of AVX-512 at 512 bits with AVX-512F, at 256 and 128 with AVX-512VL.
            var avx512 = bits == 512 ? System.Runtime.Intrinsics.X86.Avx512F.IsSupported : System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported;
            Assert.Equal(avx512, TOps.UsesAvx512);
        }
    }

    private readonly struct MaskCheck : ICheck
    {
        public unsafe void Run<TOps, TV>() where TOps : ISimdOps<TV> where TV : struct
        {
            int lanes = TOps.Lanes;
            var source = stackalloc float[16];
            var target = stackalloc float[16];
            var loaded = stackalloc float[16];
            for (var count = 1; count <= lanes; count++)
            {
                for (var l = 0; l < lanes; l++)
                {
                    source[l] = l + 1;
                    target[l] = -1;
                }

                TV mask = TOps.TailMask(count);
                TOps.Store(loaded, TOps.MaskedLoad(source, mask));
                TOps.MaskedStore(target, mask, TOps.Broadcast(7f));
                for (var l = 0; l < lanes; l++)
                {
                    Same(l < count ? l + 1 : 0f, loaded[l], $"MaskedLoad lane {l} of {count}");
                    Same(l < count ? 7f : -1f, target[l], $"MaskedStore lane {l} of {count}");
                }
            }
        }
    }
}
