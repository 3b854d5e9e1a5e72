namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// A loaded CBLAS implementation (OpenBLAS, MKL): <c>cblas_sgemm</c> plus the library's process-wide
/// "number of threads" setter. All CBLAS libraries share the same C signature (LP64: 32-bit ints).
/// </summary>
internal sealed unsafe class CblasLibrary
{
    private const int RowMajor = 101;
    private const int NoTrans = 111;

    private readonly delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;
    private readonly delegate* unmanaged[Cdecl]<int, void> _setThreads;
    private readonly Lock _threadsLock = new();
    private int _threadsInForce;

    private CblasLibrary(NativeLibraryBinding binding, string setThreadsExport)
    {
        Binding = binding;
        SetThreadsExport = setThreadsExport;
        _sgemm = (delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
            binding.RequiredExport("cblas_sgemm");
        _setThreads = (delegate* unmanaged[Cdecl]<int, void>)binding.RequiredExport(setThreadsExport);
    }

    public NativeLibraryBinding Binding { get; }

    /// <summary>The export used to set the thread count (for documentation and logs).</summary>
    public string SetThreadsExport { get; }

    /// <summary>
    /// Loads <paramref name="spec"/> and requires <c>cblas_sgemm</c> and the first of
    /// <paramref name="setThreadsExports"/> that the library exports.
    /// </summary>
    public static CblasLibrary? TryLoad(NativeLibrarySpec spec, IReadOnlyList<string> setThreadsExports, out string reason)
    {
        if (!NativeLibraryBinding.TryLoad(spec, ["cblas_sgemm"], out var binding, out reason)) return null;
        var setter = setThreadsExports.FirstOrDefault(name => binding!.OptionalExport(name) != IntPtr.Zero);
        if (setter is null)
        {
            reason = $"{binding!.FileName} exports cblas_sgemm but none of {string.Join(", ", setThreadsExports)} to set its thread count";
            return null;
        }

        return new CblasLibrary(binding!, setter);
    }

    /// <summary>
    /// Makes the library use <paramref name="threads"/> threads from now on. The setting is process-wide in
    /// these libraries, so it is applied only when it differs from the last value this process set.
    /// </summary>
    public void UseThreads(int threads)
    {
        if (Volatile.Read(ref _threadsInForce) == threads) return;
        lock (_threadsLock)
        {
            if (_threadsInForce == threads) return;
            _setThreads(threads);
            Volatile.Write(ref _threadsInForce, threads);
        }
    }

    /// <summary><c>C[m × n] = A[m × k] · B[k × n] + beta · C</c>, all row-major and dense.</summary>
    public void Sgemm(int m, int n, int k, float* a, float* b, float beta, float* c) =>
        _sgemm(RowMajor, NoTrans, NoTrans, m, n, k, 1f, a, k, b, n, beta, c, n);

    /// <summary>
    /// <c>C[m × n] = A[m × k] · B[k × n] + beta · C</c>, row-major with row strides <paramref name="lda"/>,
    /// <paramref name="ldb"/> and <paramref name="ldc"/> (a block of columns of a wider B and C).
    /// </summary>
    public void Sgemm(int m, int n, int k, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc) =>
        _sgemm(RowMajor, NoTrans, NoTrans, m, n, k, 1f, a, lda, b, ldb, beta, c, ldc);
}
