using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// Our own matrix multiply: no native dependency, always available. B is packed once into column
/// panels (<see cref="PackedPanels"/>); C is computed in register tiles (6 rows × 4 vectors, or up to
/// 12 rows × 2 vectors for small batches) by
/// <see cref="GemmMicroKernel"/> with Vector512 where accelerated, else Vector256, else Vector128.
/// The ragged right edge of C is read and written through a lane mask (B is zero-padded there).
/// K is blocked so the B slice swept for each row block stays in L2. With <c>threads</c> &gt; 1, large
/// multiplies are split over column panels (or over rows when there are too few panels) between the
/// calling thread and dedicated workers; small ones, and calls made while the workers are busy with
/// another call, run on the calling thread alone.
/// Every element of C is one chain of FMAs over k in ascending order, started from the bias (or zero),
/// so a row's result is bitwise the same whatever batch it is in, however the work is tiled, blocked or
/// split, and for every vector width: a key's outputs never depend on the keys that share its batch.
/// A B of at most <see cref="NarrowColumnsKernel.MaxColumns"/> columns (a small dense head) is multiplied as dot
/// products instead (<see cref="NarrowColumnsKernel"/>: 16 partial sums in a fixed order, then the bias), with the
/// same guarantee: the same whatever the batch and the vector width.
/// Thread safety: concurrent <see cref="Multiply"/> calls are safe (per-call state lives on the stack,
/// the worker set is claimed by one call at a time).
/// </summary>
internal sealed unsafe class ManagedMatMul : IMatMulBackend, IDisposable
{
    /// <summary>Multiply-adds below which a multiply is not split over threads (about 20 µs of work).</summary>
    internal const long ParallelThreshold = 1L << 21;

    /// <summary>Bytes of B one K block may span per row block sweep (kept well inside a 1 MB L2).</summary>
    private const int BlockBudgetBytes = 384 * 1024;

    private readonly int _lanes;
    private readonly int _panelVectors;
    private readonly GemmWorkers? _workers;
    private readonly SplitJob? _job;
    private readonly MatMulCapability _capability;
    private readonly MatMulCapability[] _capabilities;

    /// <summary>Creates the backend; <paramref name="threads"/> is the most threads one multiply uses (1 = the caller only).</summary>
    public ManagedMatMul(int threads = 1) : this(threads, 0)
    {
    }

    /// <summary><paramref name="vectorBits"/>: 512, 256 or 128 to force a vector width (tests), 0 for the widest accelerated one.</summary>
    internal ManagedMatMul(int threads, int vectorBits)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1");
        if (vectorBits == 0)
        {
            vectorBits = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;
        }

        (_lanes, _panelVectors) = vectorBits switch
        {
            512 => (16, 4),
            256 => (8, 2),
            128 => (4, 2),
            _ => throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "vector width must be 512, 256 or 128 bits"),
        };
        VectorBits = vectorBits;
        Threads = threads;
        _capability = new MatMulCapability(threads, vectorBits, this);
        _capabilities = [_capability];
        if (threads > 1)
        {
            _workers = new GemmWorkers(threads - 1);
            _job = new SplitJob();
        }
    }

    public string Name => "managed";

    /// <summary>Width of the hardware vectors the kernel uses.</summary>
    public int VectorBits { get; }

    /// <summary>Multiplies and layer steps split over the worker threads so far (0 with one thread).</summary>
    internal long SplitCalls => _workers?.JobsStarted ?? 0;

    /// <summary>Most threads one multiply uses.</summary>
    public int Threads { get; }

    /// <summary>For every row count: a layer step on this backend may fuse its multiply with the cell update, on <see cref="Threads"/> threads.</summary>
    public MatMulCapability CapabilityFor(int rows) => _capability;

    public IReadOnlyList<MatMulCapability> Capabilities => _capabilities;

    public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns)
    {
        if (rows <= 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "B needs at least one row");
        if (columns <= 0) throw new ArgumentOutOfRangeException(nameof(columns), columns, "B needs at least one column");
        if (b.Length != (long)rows * columns) throw new ArgumentException($"B has {b.Length} values, expected {rows} × {columns}", nameof(b));
        return new PackedPanels(b, rows, columns, _lanes, _panelVectors);
    }

    public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c)
    {
        if (b is not PackedPanels p || p.Lanes != _lanes || p.PanelVectors != _panelVectors)
            throw new ArgumentException($"B was not packed by this {VectorBits}-bit managed backend", nameof(b));
        int k = p.Rows, n = p.Columns;
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "row count must not be negative");
        if (a.Length < (long)m * k) throw new ArgumentException($"A has {a.Length} values, expected {m} × {k}", nameof(a));
        if (c.Length < (long)m * n) throw new ArgumentException($"C has {c.Length} values, expected {m} × {n}", nameof(c));
        if (!bias.IsEmpty && bias.Length != n) throw new ArgumentException($"bias has {bias.Length} values, expected {n} or none", nameof(bias));
        if (m == 0) return;

        fixed (float* pa = a)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        {
            var call = new Call(pa, p, bias.IsEmpty ? null : pbias, pc, m);
            if (p.ColumnData is not null)
            {
                // A narrow B (a head with few outputs): dot products, cheap enough for one thread.
                NarrowColumnsKernel.Run(_lanes, pa, p, call.Bias, pc, m);
            }
            else if (_workers is not null && (long)m * k * n >= ParallelThreshold && MaySplit(k, n, m) && _workers.TryBegin())
            {
                _job!.Set(call, _workers.Threads);
                _workers.RunAndEnd(_job, _workers.Threads);
            }
            else
            {
                Run(call, 0, m, 0, p.PanelCount);
            }
        }

        p.KeepAlive();
    }

    /// <summary>
    /// Per B shape (K, N): the fewest rows for which splitting a multiply or a fused layer step over the threads paid
    /// when the autotuner measured it at model load (split and on the calling thread alone, see
    /// <see cref="Selection.MatMulAutotuner"/>); replaced whole on each change, so readers need no lock.
    /// </summary>
    private Dictionary<(int K, int N), int> _splitFromRows = [];

    /// <summary>
    /// Whether a multiply by B of shape <c>[k × n]</c> (or a fused layer step on that gate matrix) of <paramref name="rows"/>
    /// rows may be split over the threads: always when nothing was measured for the shape (the size rules decide
    /// then), else from the measured row count on; never while <see cref="SerialOnly"/>.
    /// </summary>
    internal bool MaySplit(int k, int n, int rows) =>
        !SerialOnly && (!_splitFromRows.TryGetValue((k, n), out var from) || rows >= from);

    /// <summary>Records that steps on B of shape <c>[k × n]</c> are split from <paramref name="rows"/> rows on (<c>int.MaxValue</c>: never).</summary>
    internal void SetSplitFromRows(int k, int n, int rows) => _splitFromRows = new Dictionary<(int K, int N), int>(_splitFromRows) { [(k, n)] = rows };

    /// <summary>The row count from which steps on B of shape <c>[k × n]</c> are split, when measured.</summary>
    internal int? SplitFromRows(int k, int n) => _splitFromRows.TryGetValue((k, n), out var from) ? from : null;

    /// <summary>While true, nothing is split (the autotuner times the calling thread alone); only set while tuning.</summary>
    internal bool SerialOnly { get; set; }

    /// <summary>The worker threads' vector width in floats (the lanes B is packed for).</summary>
    internal int Lanes => _lanes;

    /// <summary>
    /// Runs parts 0 … <paramref name="parts"/> − 1 of <paramref name="job"/> on this backend's threads (the caller
    /// and the workers); false, having run nothing, when this backend has one thread or its workers are busy.
    /// Multiplies made by the parts run on their own thread.
    /// </summary>
    internal bool TryRunParallel(IParallelJob job, int parts)
    {
        if (_workers is null || !_workers.TryBegin()) return false;
        _workers.RunAndEnd(job, parts);
        return true;
    }

    /// <summary>Stops the worker threads (when <c>threads</c> &gt; 1); the backend must not be used afterwards.</summary>
    public void Dispose() => _workers?.Dispose();

    /// <summary>One multiply's operands.</summary>
    private readonly struct Call(float* a, PackedPanels b, float* bias, float* c, int m)
    {
        public readonly float* A = a;
        public readonly PackedPanels B = b;
        public readonly float* Bias = bias;
        public readonly float* C = c;
        public readonly int M = m;
    }

    /// <summary>The multiply's split between the caller and the workers, reused for every call.</summary>
    private sealed class SplitJob : IParallelJob
    {
        private Call _call;
        private int _parts;
        private bool _byPanels;

        public void Set(Call call, int parts)
        {
            _call = call;
            _parts = parts;
            // Column panels split B between the cores' caches; rows when there are too few panels to balance.
            _byPanels = call.B.PanelCount >= 4 * parts || call.M <= GemmMicroKernel.MaxNarrowRows * parts;
        }

        public void RunPart(int part)
        {
            var call = _call;
            if (_byPanels)
            {
                int panels = call.B.PanelCount;
                int from = (int)((long)panels * part / _parts), to = (int)((long)panels * (part + 1) / _parts);
                if (from < to) Run(call, 0, call.M, from, to);
            }
            else
            {
                int blocks = (call.M + GemmMicroKernel.MaxRows - 1) / GemmMicroKernel.MaxRows;
                int from = (int)((long)blocks * part / _parts) * GemmMicroKernel.MaxRows;
                int to = Math.Min(call.M, (int)((long)blocks * (part + 1) / _parts) * GemmMicroKernel.MaxRows);
                if (from < to) Run(call, from, to, 0, call.B.PanelCount);
            }
        }
    }

    /// <summary>C rows [rowFrom, rowTo) × the columns of panels [panelFrom, panelTo).</summary>
    private static void Run(in Call call, int rowFrom, int rowTo, int panelFrom, int panelTo)
    {
        switch (call.B.Lanes)
        {
            case 16: Run<Simd512, Vector512<float>>(call, rowFrom, rowTo, panelFrom, panelTo); break;
            case 8: Run<Simd256, Vector256<float>>(call, rowFrom, rowTo, panelFrom, panelTo); break;
            default: Run<Simd128, Vector128<float>>(call, rowFrom, rowTo, panelFrom, panelTo); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TOps, TV>(in Call call, int rowFrom, int rowTo, int panelFrom, int panelTo)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        var b = call.B;
        int k = b.Rows, n = b.Columns, full = b.FullPanelWidth, lanes = b.Lanes;
        int rows = rowTo - rowFrom;

        // Row blocks: up to 12 rows go in one block (narrower tiles), so B is streamed once; larger
        // batches use balanced blocks of at most 6 rows (7 rows never run as 6 + 1).
        int rowBlocks = rows <= GemmMicroKernel.MaxNarrowRows ? 1 : (rows + GemmMicroKernel.MaxRows - 1) / GemmMicroKernel.MaxRows;

        // K blocks: one block when B is swept once anyway (a single row block) or fits the budget.
        int spanWidth = Math.Min(n, (panelTo - panelFrom) * full);
        int kBlock = k;
        if (rowBlocks > 1 && (long)k * spanWidth * sizeof(float) > BlockBudgetBytes)
        {
            int target = Math.Max(64, BlockBudgetBytes / (spanWidth * sizeof(float)));
            int count = (k + target - 1) / target;
            kBlock = (k + count - 1) / count;
        }

        // The ragged right edge of C (N not a multiple of the vector) is written through a lane mask.
        int ragged = n % lanes;
        TV edgeMask = TOps.TailMask(ragged == 0 ? lanes : ragged);
        float* data = b.Data;
        float** aRows = stackalloc float*[GemmMicroKernel.MaxNarrowRows];
        for (var k0 = 0; k0 < k; k0 += kBlock)
        {
            int kc = Math.Min(kBlock, k - k0);
            bool accumulate = k0 > 0;
            int row = rowFrom, baseRows = rows / rowBlocks, extra = rows % rowBlocks;
            for (var blk = 0; blk < rowBlocks; blk++)
            {
                int tileRows = baseRows + (blk < extra ? 1 : 0);
                int tileVecs = Math.Min(b.PanelVectors, 24 / tileRows);
                float* aTile = call.A + (long)row * k + k0;
                for (var r = 0; r < tileRows; r++) aRows[r] = aTile + (long)r * k;
                float* cRow = call.C + (long)row * n;
                for (var p = panelFrom; p < panelTo; p++)
                {
                    int col0 = p * full, vecs = b.PanelVectorCount(p), width = vecs * lanes;
                    bool raggedPanel = n - col0 < width;
                    float* panel = data + b.PanelOffset(p) + (long)k0 * width;
                    float* bias = accumulate || call.Bias is null ? null : call.Bias + col0;
                    for (var v = 0; v < vecs; v += tileVecs)
                    {
                        int subVecs = Math.Min(tileVecs, vecs - v);
                        float* subBias = bias is null ? null : bias + v * lanes;
                        if (raggedPanel && v + subVecs == vecs)
                            Tile<TOps, TV, Yes>(tileRows, subVecs, aRows, panel + v * lanes, width, kc, null, 0, cRow + col0 + v * lanes, n, subBias, accumulate, edgeMask);
                        else
                            Tile<TOps, TV, No>(tileRows, subVecs, aRows, panel + v * lanes, width, kc, null, 0, cRow + col0 + v * lanes, n, subBias, accumulate, edgeMask);
                    }
                }

                row += tileRows;
            }
        }
    }

    /// <summary>One micro-kernel tile of <paramref name="rows"/> rows × <paramref name="vecs"/> vectors (see <see cref="GemmMicroKernel.Tile{TOps, TV, TRows, TVecs, TMasked}"/>).</summary>
    internal static void Tile<TOps, TV, TMasked>(int rows, int vecs, float** a, float* panel, nint stride, nint kc, float** aNext, nint kcNext, float* c, nint ldc, float* bias, bool accumulate, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TMasked : IConstFlag
    {
        switch (rows * 8 + vecs)
        {
            case 1 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, One, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 1 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, One, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 1 * 8 + 3: GemmMicroKernel.Tile<TOps, TV, One, Three, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 1 * 8 + 4: GemmMicroKernel.Tile<TOps, TV, One, Four, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 2 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Two, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 2 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Two, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 2 * 8 + 3: GemmMicroKernel.Tile<TOps, TV, Two, Three, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 2 * 8 + 4: GemmMicroKernel.Tile<TOps, TV, Two, Four, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 3 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Three, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 3 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Three, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 3 * 8 + 3: GemmMicroKernel.Tile<TOps, TV, Three, Three, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 3 * 8 + 4: GemmMicroKernel.Tile<TOps, TV, Three, Four, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 4 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Four, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 4 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Four, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 4 * 8 + 3: GemmMicroKernel.Tile<TOps, TV, Four, Three, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 4 * 8 + 4: GemmMicroKernel.Tile<TOps, TV, Four, Four, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 5 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Five, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 5 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Five, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 5 * 8 + 3: GemmMicroKernel.Tile<TOps, TV, Five, Three, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 5 * 8 + 4: GemmMicroKernel.Tile<TOps, TV, Five, Four, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 6 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Six, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 6 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Six, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 6 * 8 + 3: GemmMicroKernel.Tile<TOps, TV, Six, Three, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 6 * 8 + 4: GemmMicroKernel.Tile<TOps, TV, Six, Four, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 7 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Seven, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 7 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Seven, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 7 * 8 + 3: GemmMicroKernel.Tile<TOps, TV, Seven, Three, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 8 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Eight, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 8 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Eight, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 8 * 8 + 3: GemmMicroKernel.Tile<TOps, TV, Eight, Three, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 9 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Nine, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 9 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Nine, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 10 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Ten, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 10 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Ten, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 11 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Eleven, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 11 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Eleven, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 12 * 8 + 1: GemmMicroKernel.Tile<TOps, TV, Twelve, One, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            case 12 * 8 + 2: GemmMicroKernel.Tile<TOps, TV, Twelve, Two, TMasked>(a, panel, stride, kc, aNext, kcNext, c, ldc, bias, accumulate, mask); break;
            default: throw new InvalidOperationException($"no GEMM tile for {rows} rows × {vecs} vectors");
        }
    }
}
