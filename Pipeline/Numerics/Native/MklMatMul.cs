namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// GEMM through Intel MKL's <c>cblas_sgemm</c> from its single dynamic library <c>libmkl_rt.so.2</c>
/// (or <c>libmkl_rt.so</c>), with MKL's default threading layer. The thread count is set with
/// <c>MKL_Set_Num_Threads</c> (process-wide; see <see cref="CblasMatMul"/>).
/// <para>
/// MKL loads its threading layer (Intel OpenMP by default; <c>MKL_THREADING_LAYER=GNU</c> or
/// <c>SEQUENTIAL</c> in the environment chooses another) at its first GEMM, and MKL itself ends the
/// process if that layer's library is missing: an MKL installation must be complete, which the package
/// managers' MKL packages are. Not exercised on the development machine (MKL is not in Debian's main archive).
/// </para>
/// </summary>
internal sealed class MklMatMul : CblasMatMul
{
    public const string BackendName = "mkl";

    private static readonly Lazy<(CblasLibrary? Library, string Reason)> Loaded = new(() =>
    {
        var library = CblasLibrary.TryLoad(NativeLibrarySpec.Mkl, ["MKL_Set_Num_Threads"], out var reason);
        return (library, reason);
    });

    /// <exception cref="MatMulBackendUnavailableException">MKL cannot be loaded.</exception>
    public MklMatMul(int threads = 1)
        : base(BackendName, Loaded.Value.Library ?? throw new MatMulBackendUnavailableException(BackendName, Loaded.Value.Reason), threads)
    {
    }

    /// <summary>Whether MKL loads here; otherwise <paramref name="reason"/> says why (files tried, package).</summary>
    public static bool IsAvailable(out string reason)
    {
        reason = Loaded.Value.Reason;
        return Loaded.Value.Library is not null;
    }
}
