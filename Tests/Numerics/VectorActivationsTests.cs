using System.Runtime.Intrinsics;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

public class VectorActivationsTests
{
    private static IEnumerable<float> Arguments()
    {
        var rng = new Random(11);
        foreach (var x in new[] { 0f, 1e-40f, 1e-30f, 1e-8f, 1e-4f, 3e-3f, 0.1f, 0.17328f, 0.34f, 0.35f, 0.34657f, 0.5f, 1f, 2f, 5f, 9f, 9.02f, 10f, 15f, 20f, 40f, 41f, 60f, 80f, 87f, 88f, 100f, 1e10f, float.MaxValue })
        {
            yield return x;
            yield return -x;
        }

        for (var i = 0; i < 20000; i++) yield return (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.NextDouble() * 3 - 2) * 3);
        // Every float in a few stretches where the argument reduction switches n, or where the result saturates.
        foreach (var centre in new[] { 0.17328680f, 0.34657359f, 0.5198604f, 9.01f, 43.6682f, 86.99f })
        {
            int bits = BitConverter.SingleToInt32Bits(centre);
            for (var d = -300; d <= 300; d++)
            {
                float x = BitConverter.Int32BitsToSingle(bits + d);
                yield return x;
                yield return -x;
            }
        }
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Sigmoid_and_tanh_are_within_1e_6_relative_of_double(int bits)
    {
        var xs = Arguments().ToArray();
        var sig = Apply(bits, xs, Function.Sigmoid);
        var tanh = Apply(bits, xs, Function.Tanh);
        for (var i = 0; i < xs.Length; i++)
        {
            double x = xs[i];
            double s = 1 / (1 + Math.Exp(-x)), t = Math.Tanh(x);
            // Below e⁻⁸⁷ the sigmoid is allowed to stop following the exponential (it is then < 1e-37).
            if (!(Math.Abs(sig[i] - s) <= 1e-6 * s || (x < -87 && sig[i] >= 0 && sig[i] < 1e-37)))
                Assert.Fail($"{bits}-bit sigmoid({x:R}) = {sig[i]:R}, expected {s:R}");
            if (!(Math.Abs(tanh[i] - t) <= 1e-6 * Math.Abs(t)))
                Assert.Fail($"{bits}-bit tanh({x:R}) = {tanh[i]:R}, expected {t:R}");
        }
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Special_values_keep_nan_limits_and_signed_zeros(int bits)
    {
        float[] xs = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.MaxValue, -float.MaxValue];
        var sig = Apply(bits, xs, Function.Sigmoid);
        var tanh = Apply(bits, xs, Function.Tanh);
        Assert.True(float.IsNaN(sig[0]), $"sigmoid(NaN) = {sig[0]}");
        Assert.True(float.IsNaN(tanh[0]), $"tanh(NaN) = {tanh[0]}");
        Near(1, sig[1], "sigmoid(+∞)");
        Assert.True(sig[2] >= 0 && sig[2] < 1e-37, $"sigmoid(−∞) = {sig[2]}");
        Near(1, tanh[1], "tanh(+∞)");
        Near(-1, tanh[2], "tanh(−∞)");
        Near(0.5, sig[3], "sigmoid(+0)");
        Near(0.5, sig[4], "sigmoid(−0)");
        Assert.Equal(BitConverter.SingleToInt32Bits(0f), BitConverter.SingleToInt32Bits(tanh[3]));
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(tanh[4]));
        Near(1, sig[5], "sigmoid(max)");
        Assert.True(sig[6] >= 0 && sig[6] < 1e-37, $"sigmoid(−max) = {sig[6]}");
        Near(1, tanh[5], "tanh(max)");
        Near(-1, tanh[6], "tanh(−max)");
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Sigmoid_times_tanh_is_within_1e_6_relative_of_double(int bits)
    {
        var rng = new Random(12);
        var a = new List<float>();
        var b = new List<float>();
        float[] edges = [0f, 1e-30f, 1e-6f, 0.2f, 1f, 4f, 9.5f, 20f, 40f, 59.9f, 60f, 87f, 100f];
        foreach (var x in edges)
        {
            foreach (var y in edges)
            {
                foreach (var (sa, sb) in new[] { (1, 1), (1, -1), (-1, 1), (-1, -1) })
                {
                    a.Add(sa * x);
                    b.Add(sb * y);
                }
            }
        }

        for (var i = 0; i < 20000; i++)
        {
            a.Add((float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.NextDouble() * 3 - 2) * 6));
            b.Add((float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.NextDouble() * 6 - 5) * 3));
        }

        var product = Apply(bits, [.. a], Function.SigmoidTimesTanh, [.. b]);
        for (var i = 0; i < a.Count; i++)
        {
            double exact = Math.Tanh(b[i]) / (1 + Math.Exp(-(double)a[i]));
            // Below a = −60 the product may stay at σ(−60)·tanh b, within 8.8e-27 of the exact value; below the
            // smallest normal float only an absolute accuracy is possible.
            bool ok = a[i] >= -60
                ? Math.Abs(product[i] - exact) <= 1e-6 * Math.Abs(exact) + 1e-44
                : Math.Abs(product[i] - exact) <= 8.8e-27 * Math.Abs(Math.Tanh(b[i])) && product[i] * exact >= 0;
            if (!ok) Assert.Fail($"{bits}-bit sigmoid({a[i]:R})·tanh({b[i]:R}) = {product[i]:R}, expected {exact:R}");
        }
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Sigmoid_times_tanh_keeps_nan_limits_and_signed_zeros(int bits)
    {
        float inf = float.PositiveInfinity;
        float[] a = [float.NaN, 1f, inf, inf, -inf, 2f, 2f, 3f, -3f];
        float[] b = [1f, float.NaN, inf, -inf, 5f, 0f, -0f, inf, -inf];
        var p = Apply(bits, a, Function.SigmoidTimesTanh, b);
        Assert.True(float.IsNaN(p[0]), $"sigmoid(NaN)·tanh(1) = {p[0]}");
        Assert.True(float.IsNaN(p[1]), $"sigmoid(1)·tanh(NaN) = {p[1]}");
        Near(1, p[2], "sigmoid(+∞)·tanh(+∞)");
        Near(-1, p[3], "sigmoid(+∞)·tanh(−∞)");
        Assert.True(p[4] >= 0 && p[4] < 1e-26, $"sigmoid(−∞)·tanh(5) = {p[4]}");
        Assert.Equal(BitConverter.SingleToInt32Bits(0f), BitConverter.SingleToInt32Bits(p[5]));
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(p[6]));
        Near(1 / (1 + Math.Exp(-3)), p[7], "sigmoid(3)·tanh(+∞)");
        Near(-1 / (1 + Math.Exp(3)), p[8], "sigmoid(−3)·tanh(−∞)");
    }

    private static void Near(double expected, float actual, string what)
    {
        if (!(Math.Abs(actual - expected) <= 1e-6 * Math.Abs(expected))) Assert.Fail($"{what} = {actual:R}, expected {expected:R}");
    }

    private enum Function { Sigmoid, Tanh, SigmoidTimesTanh }

    private static float[] Apply(int bits, float[] xs, Function function, float[]? ys = null) => bits switch
    {
        512 => Apply<Simd512, Vector512<float>>(xs, ys, function),
        256 => Apply<Simd256, Vector256<float>>(xs, ys, function),
        _ => Apply<Simd128, Vector128<float>>(xs, ys, function),
    };

    private static unsafe float[] Apply<TOps, TV>(float[] xs, float[]? ys, Function function)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes;
        var result = new float[xs.Length];
        var px = stackalloc float[16];
        var py = stackalloc float[16];
        var pr = stackalloc float[16];
        for (var i = 0; i < xs.Length; i += lanes)
        {
            for (var l = 0; l < lanes; l++)
            {
                px[l] = i + l < xs.Length ? xs[i + l] : 0f;
                py[l] = i + l < xs.Length && ys is not null ? ys[i + l] : 0f;
            }

            TV x = TOps.Load(px);
            TV r = function switch
            {
                Function.Sigmoid => VectorActivations.Sigmoid<TOps, TV>(x),
                Function.Tanh => VectorActivations.Tanh<TOps, TV>(x),
                _ => VectorActivations.SigmoidTimesTanh<TOps, TV>(x, TOps.Load(py)),
            };
            TOps.Store(pr, r);
            for (var l = 0; l < lanes && i + l < xs.Length; l++) result[i + l] = pr[l];
        }

        return result;
    }
}
