namespace LstmStream.Tests.Numerics.Native;

/// <summary>
/// A scalar double-precision <c>C = A · B + bias</c> and the error bound any float summation order must meet:
/// |c − ref| ≤ (K + 2) · 2⁻²⁴ · (Σ|a·b| + |bias|) (the classic worst-case bound for K + 1 additions).
/// </summary>
internal static class ReferenceGemm
{
    private const double UnitRoundoff = 1.0 / (1 << 24);

    public static (double[] Expected, double[] Bound) Compute(float[] a, int m, int k, float[] b, int n, float[] bias)
    {
        var expected = new double[m * n];
        var bound = new double[m * n];
        var magnitude = new double[n];
        for (var i = 0; i < m; i++)
        {
            var row = expected.AsSpan(i * n, n);
            magnitude.AsSpan().Clear();
            for (var j = 0; j < n; j++)
            {
                row[j] = bias.Length == 0 ? 0 : bias[j];
                magnitude[j] = bias.Length == 0 ? 0 : Math.Abs((double)bias[j]);
            }

            for (var p = 0; p < k; p++)
            {
                double s = a[i * k + p];
                for (var j = 0; j < n; j++)
                {
                    var product = s * b[p * n + j];
                    row[j] += product;
                    magnitude[j] += Math.Abs(product);
                }
            }

            for (var j = 0; j < n; j++) bound[i * n + j] = (k + 2) * UnitRoundoff * magnitude[j] + 1e-30;
        }

        return (expected, bound);
    }

    public static float[] Random(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
