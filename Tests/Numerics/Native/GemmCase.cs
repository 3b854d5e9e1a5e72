namespace LstmStream.Tests.Numerics.Native;

/// <summary>One multiply with its operands and the double-precision reference result and error bound.</summary>
internal sealed record GemmCase(int M, int K, int N, float[] A, float[] B, float[] Bias, double[] Expected, double[] Bound)
{
    public static GemmCase Create(Random random, int m, int k, int n, bool withBias)
    {
        var b = ReferenceGemm.Random(random, k * n);
        var bias = withBias ? ReferenceGemm.Random(random, n) : [];
        var a = ReferenceGemm.Random(random, m * k);
        var (expected, bound) = ReferenceGemm.Compute(a, m, k, b, n, bias);
        return new GemmCase(m, k, n, a, b, bias, expected, bound);
    }

    public override string ToString() => $"m {M} k {K} n {N} bias {Bias.Length > 0}";
}
