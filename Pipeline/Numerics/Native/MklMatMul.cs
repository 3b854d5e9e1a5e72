namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// GEMM through Intel MKL's <c>cblas_sgemm</c> from its single dynamic library <c>libmkl_rt</c> (Debian's
/// non-free <c>libmkl-rt</c>, or oneMKL's <c>libmkl_rt.so.2</c>), set up once per process by
/// <see cref="MklLibrary"/>: LP64 interface, threading layer from <c>MKL_THREADING_LAYER</c> chosen and checked
/// before MKL's first call. When anything is missing the backend is unavailable with the reason
/// (<see cref="IsAvailable"/>); the process never dies of it.
/// <para>
/// Threads: on the sequential layer (the default) MKL runs on the thread that calls it, so with
/// <see cref="CblasMatMul.Threads"/> &gt; 1 a large multiply is split over LstmStream's own worker threads (the same
/// kind of pool as the managed kernel's): by rows when there are enough rows, otherwise by blocks of columns, each
/// part one sequential <c>cblas_sgemm</c>. On the GNU or Intel OpenMP layer the count goes to
/// <c>MKL_Set_Num_Threads</c> (process-wide; see <see cref="CblasMatMul"/>) and MKL's OpenMP team does the split.
/// </para>
/// </summary>
internal sealed unsafe class MklMatMul : CblasMatMul, IDisposable
{
    public const string BackendName = "mkl";

    /// <summary>Rows below which a multiply is split by columns instead (fewer rows per part than this would starve the kernel).</summary>
    private const int MinRowsPerPart = 8;

    /// <summary>Columns of a part in a split by columns are a multiple of this (a 64-byte cache line of floats).</summary>
    private const int ColumnAlignment = 16;

    private static readonly Lazy<(MklLibrary? Library, string Reason)> Loaded = new(Load);

    private readonly GemmWorkers? _workers;
    private readonly SplitJob? _job;

    /// <exception cref="MatMulBackendUnavailableException">MKL cannot be loaded or set up.</exception>
    public MklMatMul(int threads = 1)
        : base(BackendName, (Loaded.Value.Library ?? throw new MatMulBackendUnavailableException(BackendName, Loaded.Value.Reason)).Cblas, threads)
    {
        Layer = Loaded.Value.Library!.Layer;
        if (Layer == MklThreadingLayer.Sequential && threads > 1)
        {
            _workers = new GemmWorkers(threads - 1);
            _job = new SplitJob(Library);
        }
    }

    /// <summary>The MKL threading layer this process runs on.</summary>
    public MklThreadingLayer Layer { get; }

    /// <summary>Whether MKL loads and is set up here; otherwise <paramref name="reason"/> says why (files tried, linker message, package).</summary>
    public static bool IsAvailable(out string reason)
    {
        reason = Loaded.Value.Reason;
        return Loaded.Value.Library is not null;
    }

    private protected override void Gemm(int m, int n, int k, float* a, float* b, float beta, float* c)
    {
        if (_workers is null)
        {
            base.Gemm(m, n, k, a, b, beta, c);
            return;
        }

        var parts = _workers.Threads;
        var byRows = m >= parts * MinRowsPerPart;
        if ((long)m * k * n < ManagedMatMul.ParallelThreshold || (!byRows && n < parts * ColumnAlignment) || !_workers.TryBegin())
        {
            Library.Sgemm(m, n, k, a, b, beta, c);
            return;
        }

        _job!.Set(m, n, k, a, b, beta, c, parts, byRows);
        _workers.RunAndEnd(_job, parts);
    }

    public override string ToString()
    {
        var threads = Layer == MklThreadingLayer.Sequential
            ? Threads == 1 ? "1 thread" : $"{Threads} threads (LstmStream's workers)"
            : $"{Threads} thread{(Threads == 1 ? "" : "s")}";
        return $"{Name} ({LibraryFile}, {MklLibrary.LayerName((int)Layer)} layer, {threads})";
    }

    public void Dispose() => _workers?.Dispose();

    private static (MklLibrary?, string) Load()
    {
        var library = MklLibrary.TryLoad(Environment.GetEnvironmentVariable(MklLibrary.LayerVariable), out var reason);
        return (library, reason);
    }

    /// <summary>One multiply split into parts of rows or of column blocks, each one sequential MKL call.</summary>
    private sealed class SplitJob(CblasLibrary library) : IParallelJob
    {
        private int _m, _n, _k, _parts;
        private float* _a, _b, _c;
        private float _beta;
        private bool _byRows;

        public void Set(int m, int n, int k, float* a, float* b, float beta, float* c, int parts, bool byRows)
        {
            (_m, _n, _k, _beta, _parts, _byRows) = (m, n, k, beta, parts, byRows);
            _a = a;
            _b = b;
            _c = c;
        }

        public void RunPart(int part)
        {
            if (_byRows)
            {
                int first = (int)((long)_m * part / _parts), end = (int)((long)_m * (part + 1) / _parts);
                if (end > first) library.Sgemm(end - first, _n, _k, _a + (long)first * _k, _k, _b, _n, _beta, _c + (long)first * _n, _n);
                return;
            }

            var blocks = (_n + ColumnAlignment - 1) / ColumnAlignment;
            int from = (int)((long)blocks * part / _parts) * ColumnAlignment, to = Math.Min(_n, (int)((long)blocks * (part + 1) / _parts) * ColumnAlignment);
            if (to > from) library.Sgemm(_m, to - from, _k, _a, _k, _b + from, _n, _beta, _c + from, _n);
        }
    }
}
