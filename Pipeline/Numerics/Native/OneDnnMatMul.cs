namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// GEMM through oneDNN's <c>dnnl_sgemm</c> (Debian: <c>libdnnl.so.2</c> from libdnnl2), which is
/// row-major with <c>'N'</c>/<c>'T'</c> characters for transposition and 64-bit dimensions. B is packed as a
/// pinned, 64-byte-aligned row-major copy; a bias is written into C first and added with beta = 1 (beta = 0
/// without bias). No allocation per call.
/// <para>
/// Threads: Debian's oneDNN runs on GNU OpenMP (libgomp). Its thread count for a call is the OpenMP
/// <c>nthreads-var</c> of the calling thread, which OpenMP keeps per thread for threads it did not create,
/// so every call first runs <c>omp_set_num_threads(Threads)</c> from the libgomp that oneDNN loaded (a few
/// instructions). <c>OMP_NUM_THREADS</c> in the environment only sets the starting value. libgomp keeps one
/// team of worker threads per calling thread, and its workers spin for a while after each call
/// (<c>OMP_WAIT_POLICY=PASSIVE</c> in the environment before start makes them sleep at once, which is
/// kinder to a shared or small machine).
/// </para>
/// <para>
/// Thread safety: <see cref="Multiply"/> keeps no state and <c>dnnl_sgemm</c> is thread-safe, so concurrent
/// calls are safe.
/// </para>
/// </summary>
internal sealed unsafe class OneDnnMatMul : IMatMulBackend
{
    public const string BackendName = "onednn";

    private const byte NoTranspose = (byte)'N';

    private static readonly Lazy<(Functions? Functions, string Reason)> Loaded = new(Load);

    private readonly Functions _functions;

    /// <exception cref="MatMulBackendUnavailableException">oneDNN or its OpenMP runtime cannot be loaded.</exception>
    public OneDnnMatMul(int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        _functions = Loaded.Value.Functions ?? throw new MatMulBackendUnavailableException(BackendName, Loaded.Value.Reason);
        Threads = threads;
    }

    public string Name => BackendName;

    /// <summary>OpenMP threads oneDNN uses for each multiply.</summary>
    public int Threads { get; }

    /// <summary>The library file that was loaded (libdnnl.so.2).</summary>
    public string LibraryFile => _functions.Library.FileName;

    /// <summary>Whether oneDNN loads here; otherwise <paramref name="reason"/> says why (files tried, package).</summary>
    public static bool IsAvailable(out string reason)
    {
        reason = Loaded.Value.Reason;
        return Loaded.Value.Functions is not null;
    }

    public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns) => new NativePackedMatrix(this, b, rows, columns);

    public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c)
    {
        var packed = MatMulArguments.Check(this, a, m, b, bias, c);
        if (m == 0) return;
        var beta = MatMulArguments.PrefillBias(bias, m, c);

        long k = packed.Rows, n = packed.Columns;
        int status;
        _functions.OmpSetNumThreads(Threads);
        fixed (float* pa = a)
        fixed (float* pc = c)
        {
            status = _functions.Sgemm(NoTranspose, NoTranspose, m, n, k, 1f, pa, k, packed.Pointer, n, beta, pc, n);
        }

        GC.KeepAlive(packed);
        if (status != 0)
            throw new InvalidOperationException($"dnnl_sgemm failed with status {status} ({StatusName(status)}) for m {m}, k {k}, n {n}");
    }

    public override string ToString() => $"{Name} ({LibraryFile}, {Threads} thread{(Threads == 1 ? "" : "s")})";

    private static string StatusName(int status) => status switch
    {
        1 => "out of memory",
        2 => "invalid arguments",
        3 => "unimplemented",
        5 => "runtime error",
        _ => "unknown status",
    };

    private static (Functions?, string) Load()
    {
        if (!NativeLibraryBinding.TryLoad(NativeLibrarySpec.OneDnn, ["dnnl_sgemm"], out var dnnl, out var reason))
            return (null, reason);
        // Debian's libdnnl2 links libgomp.so.1, so this finds the instance oneDNN already uses.
        if (!NativeLibraryBinding.TryLoad(NativeLibrarySpec.GnuOpenMp, ["omp_set_num_threads"], out var gomp, out reason))
            return (null, $"{dnnl!.FileName} loaded, but its thread count cannot be set: {reason}");
        return (new Functions(dnnl!, gomp!), "");
    }

    private sealed class Functions(NativeLibraryBinding library, NativeLibraryBinding openMp)
    {
        public NativeLibraryBinding Library { get; } = library;

        public readonly delegate* unmanaged[Cdecl]<byte, byte, long, long, long, float, float*, long, float*, long, float, float*, long, int> Sgemm =
            (delegate* unmanaged[Cdecl]<byte, byte, long, long, long, float, float*, long, float*, long, float, float*, long, int>)
            library.RequiredExport("dnnl_sgemm");

        public readonly delegate* unmanaged[Cdecl]<int, void> OmpSetNumThreads =
            (delegate* unmanaged[Cdecl]<int, void>)openMp.RequiredExport("omp_set_num_threads");
    }
}
