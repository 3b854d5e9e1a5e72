using System.Runtime.Intrinsics;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

public class VectorActivationsTests
{
    private static IEnumerable<float> Arguments()
    {
        var rng = new Random(11);
        foreach (var x in new[] { 0f, -0f, 1e-30f, -1e-30f, 1e-8f, 1e-4f, -3e-3f, 0.1f, 0.34f, 0.35f, 0.5f, 1f, 2f, 5f, 9f, 15f, 20f, 40f, 80f, 87f, 88f, 100f, 1e10f })
        {
            yield return x;
            yield return -x;
        }

        for (var i = 0; i < 20000; i++) yield return (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.NextDouble() * 3 - 2) * 3);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Sigmoid_and_tanh_are_within_1e_6_relative_of_double(int bits)
    {
        var xs = Arguments().ToArray();
        var sig = new float[xs.Length];
        var tanh = new float[xs.Length];
        Apply(bits, xs, sig, tanh);
        for (var i = 0; i < xs.Length; i++)
        {
            double x = xs[i];
            double s = 1 / (1 + Math.Exp(-x)), t = Math.Tanh(x);
            // Below e⁻⁸⁸ the sigmoid is allowed to stop following the exponential (it is then < 1e-38).
            if (!(Math.Abs(sig[i] - s) <= 1e-6 * s || (x < -87 && sig[i] < 1e-37)))
                Assert.Fail($"{bits}-bit sigmoid({x}) = {sig[i]}, expected {s}");
            if (!(Math.Abs(tanh[i] - t) <= 1e-6 * Math.Abs(t)))
                Assert.Fail($"{bits}-bit tanh({x}) = {tanh[i]}, expected {t}");
        }
    }

    private static unsafe void Apply(int bits, float[] xs, float[] sig, float[] tanh)
    {
        fixed (float* px = xs)
        fixed (float* ps = sig)
        fixed (float* pt = tanh)
        {
            int lanes = bits / 32, i = 0;
            var pad = stackalloc float[16];
            var outS = stackalloc float[16];
            var outT = stackalloc float[16];
            for (; i < xs.Length; i += lanes)
            {
                int count = Math.Min(lanes, xs.Length - i);
                for (var l = 0; l < lanes; l++) pad[l] = l < count ? px[i + l] : 0f;
                switch (bits)
                {
                    case 512:
                        Simd512.Store(outS, VectorActivations.Sigmoid<Simd512, Vector512<float>>(Simd512.Load(pad)));
                        Simd512.Store(outT, VectorActivations.Tanh<Simd512, Vector512<float>>(Simd512.Load(pad)));
                        break;
                    case 256:
                        Simd256.Store(outS, VectorActivations.Sigmoid<Simd256, Vector256<float>>(Simd256.Load(pad)));
                        Simd256.Store(outT, VectorActivations.Tanh<Simd256, Vector256<float>>(Simd256.Load(pad)));
                        break;
                    default:
                        Simd128.Store(outS, VectorActivations.Sigmoid<Simd128, Vector128<float>>(Simd128.Load(pad)));
                        Simd128.Store(outT, VectorActivations.Tanh<Simd128, Vector128<float>>(Simd128.Load(pad)));
                        break;
                }

                for (var l = 0; l < count; l++)
                {
                    ps[i + l] = outS[l];
                    pt[i + l] = outT[l];
                }
            }
        }
    }
}
