namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// <see cref="IMatMulBackend"/> over a CBLAS library's <c>cblas_sgemm</c>: B is packed as a pinned,
/// 64-byte-aligned row-major copy; a bias is written into C first and added by GEMM with beta = 1
/// (beta = 0 without bias, so C's old contents never matter). No allocation and no scratch per call.
/// <para>
/// Thread safety: <see cref="Multiply"/> keeps no state, so concurrent calls are safe as far as the
/// library's <c>cblas_sgemm</c> is (OpenBLAS's pthread build and MKL are). The library's thread count is
/// process-wide: each call sets it to <see cref="Threads"/> when it differs from the value last set, so
/// two instances with different thread counts used at the same moment may run one call with the other's
/// count (slower or faster, never a different result shape).
/// </para>
/// </summary>
internal abstract unsafe class CblasMatMul : IMatMulBackend
{
    private readonly CblasLibrary _library;

    private protected CblasMatMul(string name, CblasLibrary library, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        Name = name;
        _library = library;
        Threads = threads;
    }

    public string Name { get; }

    /// <summary>Threads the library uses for each multiply.</summary>
    public int Threads { get; }

    /// <summary>The library file that was loaded (e.g. libopenblas.so.0).</summary>
    public string LibraryFile => _library.Binding.FileName;

    public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns) => new NativePackedMatrix(this, b, rows, columns);

    public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c)
    {
        var packed = MatMulArguments.Check(this, a, m, b, bias, c);
        if (m == 0) return;
        var beta = MatMulArguments.PrefillBias(bias, m, c);

        fixed (float* pa = a)
        fixed (float* pc = c)
        {
            Gemm(m, packed.Columns, packed.Rows, pa, packed.Pointer, beta, pc);
        }

        GC.KeepAlive(packed);
    }

    /// <summary>The library this backend calls.</summary>
    private protected CblasLibrary Library => _library;

    /// <summary>
    /// <c>C[m × n] = A[m × k] · B[k × n] + beta · C</c> on checked, pinned arguments: by default one call of the
    /// library with its thread count set to <see cref="Threads"/>.
    /// </summary>
    private protected virtual void Gemm(int m, int n, int k, float* a, float* b, float beta, float* c)
    {
        _library.UseThreads(Threads);
        _library.Sgemm(m, n, k, a, b, beta, c);
    }

    public override string ToString() => $"{Name} ({LibraryFile}, {Threads} thread{(Threads == 1 ? "" : "s")})";
}
