using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// One layer step on the managed kernel with the matrix multiply and the cell update fused: for each tile of
/// up to 6 rows and each block of L cell units, the micro-kernel computes the four gate pre-activations of
/// those units into a tile-sized scratch that stays in L1 (<see cref="GateBlockPanels"/> puts them side by
/// side), and <see cref="LstmCellUpdate"/> turns them into the new c and m at once. No batch-sized gate buffer
/// is written and read back. Rows are swept in chunks whose slice of [x | h] stays in L2 while every block's
/// panel passes over it; A rows are read through row pointers, so state rows are used where they lie. With
/// several threads the step is split into parts — row ranges (two per thread at least, down to 4 rows a part),
/// unit-block ranges only for batches too small for that — that the backend's workers and the caller claim in
/// turn, so both the multiply and the update run on every core. Every gate value is the same FMA chain over k from the bias
/// as in <see cref="ManagedMatMul"/>, so the results are bitwise those of the unfused step, whatever the split.
/// <para>One step at a time per instance (it keeps the step's operands in fields for the parts).</para>
/// </summary>
internal sealed unsafe class FusedLayerStep : IParallelJob
{
    /// <summary>Rows whose [x | h] slice is swept by every block before the next rows.</summary>
    private const int ChunkRows = 64;

    /// <summary>Rows of a row-range part of a large batch (small parts balance the threads' last claims).</summary>
    private const int PartRows = 64;

    /// <summary>
    /// Fewest rows per part when a small batch is split by rows (below that, by unit blocks: parts of a row or two
    /// would make poor tiles and each thread would stream all of B).
    /// </summary>
    private const int MinRowsPerSmallPart = 4;

    /// <summary>
    /// Bytes of weights above which even one row is split over threads: such a B does not stay in one core's L2,
    /// so a single row's step is bound by streaming B, and two cores stream it twice as fast.
    /// </summary>
    private const long SplitWeightBytes = 1L << 20;

    /// <summary>The largest K whose block panel (K × 4 vectors) stays well inside L2 while a chunk passes.</summary>
    public const int MaxConcatSize = 2048;

    private readonly GateBlockPanels _panels;
    private readonly CellOptions _options;
    private readonly float[] _peepholeInput;
    private readonly float[] _peepholeForget;
    private readonly float[] _peepholeOutput;
    private readonly int _k;

    private float* _xh;
    private float* _c;
    private int* _cIndex;
    private float* _m;
    private int _rowParts;
    private int _blockParts;

    /// <summary>First row of each row part, then the row count (<c>_rowParts + 1</c> entries; grown, never shrunk).</summary>
    private int[] _rowStarts = new int[2];

    // In-place mode (RunInPlace): row r's x at _x + r · inputs, its h_prev (and then its new h) at row _cIndex[r] of _hTable.
    private float* _x;
    private float* _hTable;
    private int _inputs;
    private bool _writeBackInParts;

    /// <param name="peepholeInput">The peephole diagonals (length ≥ cells), or a one-value array when there are none.</param>
    public FusedLayerStep(GateBlockPanels panels, int concatSize, in CellOptions options, float[] peepholeInput, float[] peepholeForget, float[] peepholeOutput)
    {
        _panels = panels;
        _k = concatSize;
        _options = options;
        _peepholeInput = peepholeInput;
        _peepholeForget = peepholeForget;
        _peepholeOutput = peepholeOutput;
    }

    /// <summary>
    /// Steps <paramref name="rows"/> rows: <paramref name="xh"/> <c>[rows × K]</c>, <paramref name="c"/> rows of cells
    /// (c_prev in, c out: row r's is row <c>cIndex[r]</c>, or row r when <paramref name="cIndex"/> is null),
    /// <paramref name="m"/> <c>[rows × cells]</c> out (o ⊙ tanh c).
    /// </summary>
    public void Run(ManagedMatMul backend, int rows, float* xh, float* c, int* cIndex, float* m)
    {
        _xh = xh;
        _c = c;
        _cIndex = cIndex;
        _m = m;
        try
        {
            if (!Partition(backend, rows) || !backend.TryRunParallel(this, _rowParts * _blockParts)) RunRange(0, rows, 0, _panels.Blocks);
        }
        finally
        {
            _xh = _c = _m = null;
            _cIndex = null;
            _panels.KeepAlive();
        }
    }

    /// <summary>
    /// Steps <paramref name="rows"/> rows whose state lives in tables (a state arena), no projection: row r's x at
    /// <c>x + r · inputs</c>, its h_prev and c_prev at row <c>index[r]</c> of <paramref name="hTable"/> and
    /// <paramref name="cTable"/> (distinct rows), both overwritten with the new state; the new h also goes to
    /// <paramref name="h"/> <c>[rows × cells]</c>. Nothing is gathered: the micro-kernel reads each row's x and its
    /// h_prev where they lie (two runs of k, the same FMA chain). A chunk's new h goes into the table once every
    /// block of its rows is done: inside the part when parts hold whole rows, after the step when blocks are split
    /// between parts (small batches), since another part may still read those h_prev.
    /// </summary>
    public void RunInPlace(ManagedMatMul backend, int rows, float* x, int inputs, float* hTable, float* cTable, int* index, float* h)
    {
        _x = x;
        _inputs = inputs;
        _hTable = hTable;
        _c = cTable;
        _cIndex = index;
        _m = h;
        try
        {
            bool parallel = Partition(backend, rows);
            _writeBackInParts = !parallel || _blockParts == 1;
            if (!parallel || !backend.TryRunParallel(this, _rowParts * _blockParts))
            {
                _writeBackInParts = true;
                RunRange(0, rows, 0, _panels.Blocks);
            }
            else if (!_writeBackInParts)
            {
                WriteBackH(0, rows);
            }
        }
        finally
        {
            _xh = _c = _m = _x = _hTable = null;
            _cIndex = null;
            _panels.KeepAlive();
        }
    }

    /// <summary>Sets the split of a parallel step; false when it should run on the calling thread.</summary>
    private bool Partition(ManagedMatMul backend, int rows)
    {
        int threads = backend.Threads;
        long columns = (long)_panels.Blocks * _panels.BlockWidth;
        long work = rows * _k * columns;
        if (threads <= 1 || (work < ManagedMatMul.ParallelThreshold && _k * columns * sizeof(float) < SplitWeightBytes)) return false;
        if (!backend.MaySplit(_k, 4 * _panels.Cells, rows)) return false;
        // At least two parts per thread, so a worker that wakes late or a busy core costs little.
        _rowParts = (rows + PartRows - 1) / PartRows;
        if (_rowParts < 2 * threads && rows >= MinRowsPerSmallPart * 2 * threads)
        {
            // A small batch: two row ranges per thread rather than unit blocks, so each row's c and h are written
            // by one thread only (no cache line of a row shuttles between cores, which on a VM whose vCPUs sit
            // far apart cost block-split steps a third of their speed) and each part writes its h back itself.
            _blockParts = 1;
            _rowParts = 2 * threads;
            EnsureRowStarts();
            for (var p = 0; p <= _rowParts; p++) _rowStarts[p] = (int)((long)rows * p / _rowParts);
            return true;
        }

        _blockParts = Math.Min(_panels.Blocks, Math.Max(1, (2 * threads + _rowParts - 1) / _rowParts));
        SplitRows(rows, threads);
        return true;
    }

    /// <summary>
    /// Row parts of about <see cref="PartRows"/> rows in one region of rows per thread (the range of parts that thread
    /// owns, see <see cref="GemmWorkers"/>: the same rows for it step after step), each region ending in two smaller
    /// parts (a quarter of the size) when the batch is large enough: a thread done with its own region takes parts
    /// from the ends of the others', so the threads finish within a small part of each other.
    /// </summary>
    private void SplitRows(int rows, int threads)
    {
        const int small = PartRows / 4;
        int tail = _rowParts >= 4 * threads ? 2 : 0;
        // Every region gets the same number of parts (so the workers' equal ranges of parts are the regions).
        int smallestRegion = rows / threads;
        int headParts = Math.Max(1, (smallestRegion - tail * small + PartRows - 1) / PartRows);
        int perRegion = headParts + tail;
        _rowParts = threads * perRegion;
        EnsureRowStarts();
        for (var t = 0; t < threads; t++)
        {
            int from = (int)((long)rows * t / threads), to = (int)((long)rows * (t + 1) / threads);
            int headRows = to - from - tail * small;
            for (var p = 0; p < headParts; p++) _rowStarts[t * perRegion + p] = from + (int)((long)headRows * p / headParts);
            for (var p = 0; p < tail; p++) _rowStarts[t * perRegion + headParts + p] = from + headRows + p * small;
        }

        _rowStarts[_rowParts] = rows;
    }

    private void EnsureRowStarts()
    {
        if (_rowStarts.Length < _rowParts + 1) _rowStarts = new int[Math.Max(_rowParts + 1, 2 * _rowStarts.Length)];
    }

    public void RunPart(int part)
    {
        int rowPart = part / _blockParts, blockPart = part % _blockParts;
        int blocks = _panels.Blocks;
        RunRange(_rowStarts[rowPart], _rowStarts[rowPart + 1], blocks * blockPart / _blockParts, blocks * (blockPart + 1) / _blockParts);
    }

    private void RunRange(int rowFrom, int rowTo, int blockFrom, int blockTo)
    {
        if (rowFrom >= rowTo || blockFrom >= blockTo) return;
        switch (_panels.Lanes)
        {
            case 16: RunRange<Simd512, Vector512<float>>(rowFrom, rowTo, blockFrom, blockTo); break;
            case 8: RunRange<Simd256, Vector256<float>>(rowFrom, rowTo, blockFrom, blockTo); break;
            default: RunRange<Simd128, Vector128<float>>(rowFrom, rowTo, blockFrom, blockTo); break;
        }
    }

    /// <summary>
    /// Rows [rowFrom, rowTo) × blocks [blockFrom, blockTo). In place, A is read as two runs of k per tile (x, then
    /// h_prev from the table) in one micro-kernel call, the accumulators staying in registers from one run to the
    /// other, and a chunk's new h is written to the table after its last block when <see cref="_writeBackInParts"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunRange<TOps, TV>(int rowFrom, int rowTo, int blockFrom, int blockTo)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        var panels = _panels;
        int lanes = panels.Lanes, width = panels.BlockWidth, cells = panels.Cells, k = _k, inputs = _inputs;
        // A tile is 6 rows of a block's 4 gate vectors: 6 × 4 accumulators fill AVX-512's 32 registers in one
        // micro-kernel call; AVX2 and SSE have 16 registers, so the tile is two calls of 6 × 2 (gates i, j, then f, o:
        // 12 accumulators, 2 B vectors and the broadcast; a 3 × 4 tile would spill an accumulator every k). A tile of
        // one or two rows (a lone key, a batch's last rows) is one call of all 4 gates on every width (see TileVectors).
        int maxTileRows = GemmMicroKernel.MaxRows;
        float* gates = stackalloc float[GemmMicroKernel.MaxRows * 4 * 16];
        // Row pointers of one chunk (unit 0), set once per chunk and used by every block's tiles.
        float** aRows = stackalloc float*[ChunkRows];
        float** hRows = stackalloc float*[ChunkRows];
        float** cRows = stackalloc float*[ChunkRows];
        float** mRows = stackalloc float*[ChunkRows];
        float* data = panels.Panels.Data, bias = panels.Bias;
        bool peep = _options.Peepholes;
        int* cIndex = _cIndex;
        TV noMask = TOps.TailMask(lanes);
        bool inPlace = _x is not null;
        float* x = _x, hTable = _hTable;
        // In place, the tile's k runs over x (inputs) and then h_prev (cells); otherwise over [x | h_prev] at once.
        int firstK = inPlace ? inputs : k, secondK = inPlace ? cells : 0;
        fixed (float* pi = _peepholeInput)
        fixed (float* pf = _peepholeForget)
        fixed (float* po = _peepholeOutput)
        {
            for (var chunk = rowFrom; chunk < rowTo; chunk += ChunkRows)
            {
                int chunkRows = Math.Min(ChunkRows, rowTo - chunk);
                int tiles = (chunkRows + maxTileRows - 1) / maxTileRows, baseRows = chunkRows / tiles, extra = chunkRows % tiles;
                for (var r = 0; r < chunkRows; r++)
                {
                    long at = (long)(chunk + r) * cells;
                    long state = cIndex is null ? at : (long)cIndex[chunk + r] * cells;
                    aRows[r] = inPlace ? x + (long)(chunk + r) * inputs : _xh + (long)(chunk + r) * k;
                    if (inPlace) hRows[r] = hTable + state;
                    cRows[r] = _c + state;
                    mRows[r] = _m + at;
                }

                for (var b = blockFrom; b < blockTo; b++)
                {
                    float* panel = data + panels.Panels.PanelOffset(b);
                    int unit0 = b * lanes, units = Math.Min(lanes, cells - unit0);
                    int peepAt = peep ? unit0 : 0;
                    int row = 0;
                    for (var t = 0; t < tiles; t++)
                    {
                        int tileRows = baseRows + (t < extra ? 1 : 0);
                        int callVecs = TileVectors(lanes, tileRows);
                        for (var v = 0; v < 4; v += callVecs)
                        {
                            ManagedMatMul.Tile<TOps, TV, No>(tileRows, callVecs, aRows + row, panel + v * lanes, width, firstK, inPlace ? hRows + row : null, secondK,
                                gates + v * lanes, width, bias + b * width + v * lanes, false, noMask);
                        }

                        LstmCellUpdate.RunBlockRows<TOps, TV>(_options, gates, width, tileRows, cRows + row, mRows + row, unit0, pi + peepAt, pf + peepAt, po + peepAt, units);
                        row += tileRows;
                    }
                }

                // Every block of these rows is done: their new h becomes their h_prev in the table.
                if (inPlace && _writeBackInParts) WriteBackH(chunk, chunk + chunkRows);
            }
        }
    }

    /// <summary>
    /// Gate vectors per micro-kernel call for a tile of <paramref name="tileRows"/> rows of <paramref name="lanes"/>-float
    /// vectors: all 4 with AVX-512's 32 registers; with the 16 registers of AVX2 and SSE all 4 for a tile of one or two
    /// rows (at most 8 accumulators, 4 B vectors and the broadcast), else 2 (a half tile). A one-row step is bound by
    /// the FMA latency, not the throughput: 4 independent chains per call run twice as fast as 2.
    /// </summary>
    internal static int TileVectors(int lanes, int tileRows) => lanes == 16 || tileRows <= 2 ? 4 : 2;

    /// <summary>In place: copies the new h of rows [from, to) from the output into their rows of the h table.</summary>
    private void WriteBackH(int from, int to)
    {
        int cells = _panels.Cells;
        for (var r = from; r < to; r++)
            new ReadOnlySpan<float>(_m + (long)r * cells, cells).CopyTo(new Span<float>(_hTable + (long)_cIndex[r] * cells, cells));
    }
}
