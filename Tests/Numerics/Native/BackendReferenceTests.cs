using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Tests.Numerics.Native;

/// <summary>
/// Every backend that is present against a scalar double reference: row counts 1..40 over many odd and wide
/// shapes plus a few large ones, with and without bias, with 1 and 2 threads. Each call also gets a C buffer
/// full of NaN (so beta = 0 must overwrite it) with sentinels past the end (never touched), and an A buffer
/// longer than needed.
/// </summary>
public sealed class BackendReferenceTests
{
    [Theory]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    public void Managed_matches_reference(int threads, bool withBias) => CheckBackend(MatMulBackendRegistry.Managed, threads, withBias);

    [NativeBackendTheory(MatMulBackendRegistry.OpenBlas)]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    public void OpenBlas_matches_reference(int threads, bool withBias) => CheckBackend(MatMulBackendRegistry.OpenBlas, threads, withBias);

    [NativeBackendTheory(MatMulBackendRegistry.OneDnn)]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    public void OneDnn_matches_reference(int threads, bool withBias) => CheckBackend(MatMulBackendRegistry.OneDnn, threads, withBias);

    [NativeBackendTheory(MatMulBackendRegistry.Mkl)]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    public void Mkl_matches_reference(int threads, bool withBias) => CheckBackend(MatMulBackendRegistry.Mkl, threads, withBias);

    private static void CheckBackend(string name, int threads, bool withBias)
    {
        var backend = MatMulBackendRegistry.Create(name, threads);
        foreach (var gemm in GemmCaseSet.Get(withBias)) Check(backend, gemm);
    }

    /// <summary>
    /// Packs B, multiplies into a NaN-filled C with sentinels past the end from an A with spare values past
    /// the end, and compares with the reference within its bound.
    /// </summary>
    internal static void Check(IMatMulBackend backend, GemmCase gemm)
    {
        const int spareA = 5, sentinels = 7;
        int m = gemm.M, k = gemm.K, n = gemm.N;
        var a = new float[m * k + spareA];
        gemm.A.CopyTo(a, 0);
        a.AsSpan(m * k).Fill(1e30f);
        var c = new float[m * n + sentinels];
        c.AsSpan(0, m * n).Fill(float.NaN);
        c.AsSpan(m * n).Fill(-12345f);

        var packed = backend.Pack(gemm.B, k, n);
        Assert.Equal(k, packed.Rows);
        Assert.Equal(n, packed.Columns);
        backend.Multiply(a, m, packed, gemm.Bias, c);

        for (var idx = 0; idx < m * n; idx++)
        {
            var error = Math.Abs(c[idx] - gemm.Expected[idx]);
            if (!(error <= gemm.Bound[idx]))
                Assert.Fail($"{backend} {gemm}: C[{idx / n}, {idx % n}] = {c[idx]:R}, reference {gemm.Expected[idx]:R}, error {error:E3} > bound {gemm.Bound[idx]:E3}");
        }

        for (var idx = m * n; idx < c.Length; idx++)
        {
            if (c[idx] != -12345f) Assert.Fail($"{backend} {gemm}: wrote C[{idx}] past the {m} × {n} result");
        }
    }
}
