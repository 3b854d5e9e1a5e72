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

    private static void Near(double expected, float actual, string what)
    {
        if (!(Math.Abs(actual - expected) <= 1e-6 * Math.Abs(expected))) Assert.Fail($"{what} = {actual:R}, expected {expected:R}");
    }

    private enum Function { Sigmoid, Tanh }

    private static float[] Apply(int bits, float[] xs, Function function) => bits switch
    {
        512 => Apply<Simd512, Vector512<float>>(xs, function),
        256 => Apply<Simd256, Vector256<float>>(xs, function),
        _ => Apply<Simd128, Vector128<float>>(xs, function),
    };

    private static unsafe float[] Apply<TOps, TV>(float[] xs, Function function)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes;
        var result = new float[xs.Length];
        var px = stackalloc float[16];
        var pr = stackalloc float[16];
        for (var i = 0; i < xs.Length; i += lanes)
        {
            for (var l = 0; l < lanes; l++) px[l] = i + l < xs.Length ? xs[i + l] : 0f;
            TV x = TOps.Load(px);
            TV r = function == Function.Sigmoid ? VectorActivations.Sigmoid<TOps, TV>(x) : VectorActivations.Tanh<TOps, TV>(x);
            TOps.Store(pr, r);
            for (var l = 0; l < lanes && i + l < xs.Length; l++) result[i + l] = pr[l];
        }

        return result;
    }
}
