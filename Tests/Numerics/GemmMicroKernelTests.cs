using System.Runtime.Intrinsics;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

/// <summary>
/// The micro-kernel's second run of k (A's columns in two places, e.g. a row's input and its h_prev in a state
/// table) against one run over the same columns side by side: bitwise equal for every tile shape and vector width,
/// from the bias, from zero and accumulating; and both within float rounding of a double reference.
/// </summary>
public unsafe class GemmMicroKernelTests
{
    public static IEnumerable<object[]> Shapes() =>
        from bits in new[] { 512, 256, 128 }
        from rows in Enumerable.Range(1, GemmMicroKernel.MaxNarrowRows)
        from vecs in Enumerable.Range(1, rows <= GemmMicroKernel.MaxRows ? 4 : rows <= 8 ? 3 : 2)
        select new object[] { bits, rows, vecs };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Two_runs_of_k_equal_one_run_over_the_joined_columns(int bits, int rows, int vecs)
    {
        switch (bits)
        {
            case 512 when Vector512.IsHardwareAccelerated: Check<Simd512, Vector512<float>>(rows, vecs); break;
            case 256 when Vector256.IsHardwareAccelerated: Check<Simd256, Vector256<float>>(rows, vecs); break;
            case 128: Check<Simd128, Vector128<float>>(rows, vecs); break;
        }
    }

    private static void Check<TOps, TV>(int rows, int vecs)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes, width = vecs * lanes;
        var rng = new Random(rows * 31 + vecs * 7 + lanes);
        float** aJoined = stackalloc float*[rows];
        float** aX = stackalloc float*[rows];
        float** aH = stackalloc float*[rows];
        foreach (var (first, second) in new[] { (1, 1), (16, 128), (5, 0), (0, 9), (33, 17) })
        {
            int k = first + second;
            var joined = Values(rng, rows * k);
            var x = new float[rows * Math.Max(first, 1)];
            var h = new float[rows * Math.Max(second, 1)];
            for (var r = 0; r < rows; r++)
            {
                Array.Copy(joined, r * k, x, r * first, first);
                Array.Copy(joined, r * k + first, h, r * second, second);
            }

            var panel = Values(rng, Math.Max(k, 1) * width);
            var bias = Values(rng, width);
            var start = Values(rng, rows * width);
            foreach (var mode in new[] { "bias", "zero", "accumulate" })
            {
                var one = (float[])start.Clone();
                var two = (float[])start.Clone();
                fixed (float* pj = joined, px = x, ph = h, pp = panel, pb = bias, po = one, pt = two)
                {
                    for (var r = 0; r < rows; r++)
                    {
                        aJoined[r] = pj + r * k;
                        aX[r] = px + r * first;
                        aH[r] = ph + r * second;
                    }

                    float* b = mode == "bias" ? pb : null;
                    bool accumulate = mode == "accumulate";
                    ManagedMatMul.Tile<TOps, TV, No>(rows, vecs, aJoined, pp, width, k, null, 0, po, width, b, accumulate, default);
                    ManagedMatMul.Tile<TOps, TV, No>(rows, vecs, aX, pp, width, first, aH, second, pt, width, b, accumulate, default);
                }

                var what = $"{lanes} lanes, {rows} x {vecs} tile, k = {first} + {second}, {mode}";
                Assert.True(one.AsSpan().SequenceEqual(two), $"{what}: two runs differ from one");
                for (var r = 0; r < rows; r++)
                for (var j = 0; j < width; j++)
                {
                    double expected = mode switch { "bias" => bias[j], "zero" => 0, _ => start[r * width + j] };
                    double magnitude = Math.Abs(expected);
                    for (var kk = 0; kk < k; kk++)
                    {
                        expected += (double)joined[r * k + kk] * panel[kk * width + j];
                        magnitude += Math.Abs((double)joined[r * k + kk] * panel[kk * width + j]);
                    }

                    Assert.True(Math.Abs(two[r * width + j] - expected) <= 1e-6 * (magnitude + 1),
                        $"{what}: row {r} column {j} is {two[r * width + j]}, expected {expected}");
                }
            }
        }
    }

    private static float[] Values(Random rng, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return values;
    }
}
