namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// GEMM through OpenBLAS's <c>cblas_sgemm</c> (Debian: <c>libopenblas.so.0</c> from libopenblas0-pthread).
/// The thread count is set with <c>openblas_set_num_threads</c> (process-wide; see <see cref="CblasMatMul"/>).
/// </summary>
internal sealed class OpenBlasMatMul : CblasMatMul
{
    public const string BackendName = "openblas";

    private static readonly Lazy<(CblasLibrary? Library, string Reason)> Loaded = new(() =>
    {
        var library = CblasLibrary.TryLoad(NativeLibrarySpec.OpenBlas, ["openblas_set_num_threads"], out var reason);
        return (library, reason);
    });

    /// <exception cref="MatMulBackendUnavailableException">OpenBLAS cannot be loaded.</exception>
    public OpenBlasMatMul(int threads = 1)
        : base(BackendName, Loaded.Value.Library ?? throw new MatMulBackendUnavailableException(BackendName, Loaded.Value.Reason), threads)
    {
    }

    /// <summary>Whether OpenBLAS loads here; otherwise <paramref name="reason"/> says why (files tried, package).</summary>
    public static bool IsAvailable(out string reason)
    {
        reason = Loaded.Value.Reason;
        return Loaded.Value.Library is not null;
    }
}
