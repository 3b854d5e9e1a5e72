using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// One layer step for a batch of rows: the gates of every row from one matrix multiply, the activations and
/// state update in one vectorized pass (<see cref="LstmCellUpdate"/>), then the projection when the layer has
/// one. The semantics are those documented on <see cref="LstmLayer"/>.
/// When the backend offers a fused step for that row count (<see cref="IMatMulBackend.CapabilityFor"/>: the managed
/// kernel, directly or through the plan of an <c>auto</c> backend) and the cell is at least a vector wide, the
/// multiply and the update are fused tile by tile and split over the backend's threads (<see cref="FusedLayerStep"/>);
/// otherwise the gates of the whole batch are computed first and updated after. Both give bitwise the same results.
/// The packed weights are a <see cref="PackedLstmLayer"/>, which any number of kernels may share; a kernel keeps the
/// step's scratch space (grown to the largest batch seen, never allocated per step), so an instance is used by one
/// thread at a time: one per stage materialization.
/// </summary>
internal sealed unsafe class LstmLayerKernel
{
    private readonly PackedLstmLayer _weights;
    private readonly IMatMulBackend _backend;
    private readonly IPackedMatrix? _kernel;
    private readonly FusedLayerStep? _fused;
    private readonly IPackedMatrix? _projection;
    private readonly CellOptions _options;
    private readonly int _lanes;
    private readonly float[] _peepholeInput;
    private readonly float[] _peepholeForget;
    private readonly float[] _peepholeOutput;
    private readonly bool _flat;
    private readonly int _flatChunk;
    private float[] _gates = [];
    private float[] _cellOutput = [];
    private float[] _gateMajor = [];
    private float[] _gatheredC = [];
    private float[] _gatheredXh = [];

    /// <summary>A kernel with weights of its own (packed here by <paramref name="backend"/>).</summary>
    public LstmLayerKernel(LstmLayer layer, IMatMulBackend backend) : this(new PackedLstmLayer(layer, backend))
    {
    }

    /// <summary><paramref name="vectorBits"/>: 512, 256 or 128 to force the vector width of the cell update (tests), 0 for the widest accelerated one.</summary>
    internal LstmLayerKernel(LstmLayer layer, IMatMulBackend backend, int vectorBits) : this(new PackedLstmLayer(layer, backend, vectorBits))
    {
    }

    /// <summary>A kernel stepping on shared packed weights, with scratch space of its own.</summary>
    public LstmLayerKernel(PackedLstmLayer weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        _weights = weights;
        Layer = weights.Layer;
        _backend = weights.Backend;
        _kernel = weights.Kernel;
        _projection = weights.Projection;
        _options = weights.Options;
        _lanes = weights.Lanes;
        _flat = weights.IsFlat;
        _flatChunk = weights.FlatChunk;
        _peepholeInput = weights.PeepholeInput;
        _peepholeForget = weights.PeepholeForget;
        _peepholeOutput = weights.PeepholeOutput;
        // The fused step keeps the step's operands in fields for its parts: one per kernel, on the shared panels.
        if (weights.FusedPanels is { } panels)
            _fused = new FusedLayerStep(panels, Layer.ConcatSize, _options, _peepholeInput, _peepholeForget, _peepholeOutput);
    }

    /// <summary>Whether steps of <paramref name="rows"/> rows run fused (multiply and update tile by tile).</summary>
    internal bool IsFusedFor(int rows) => _weights.IsFusedFor(rows);

    /// <summary>The managed backend that multiplies <paramref name="rows"/> rows when the fused step can use it.</summary>
    private ManagedMatMul? FusedBackendFor(int rows) => _fused is null ? null : _weights.FusedBackendFor(rows);

    public LstmLayer Layer { get; }

    /// <summary>
    /// Steps <paramref name="rows"/> independent rows.
    /// <paramref name="xh"/> is <c>[rows × ConcatSize]</c>, each row <c>[x | h_prev]</c>;
    /// <paramref name="c"/> is <c>[rows × CellSize]</c>, c_prev in and the new c out;
    /// <paramref name="h"/> is <c>[rows × OutputSize]</c>, the new h out (it must not overlap <paramref name="xh"/>).
    /// </summary>
    public void Step(int rows, ReadOnlySpan<float> xh, Span<float> c, Span<float> h) => Step(rows, xh, c, default, h);

    /// <summary>
    /// Steps <paramref name="rows"/> independent rows whose c lives in a table of rows: c of row r is row
    /// <c>cRowIndex[r]</c> of <paramref name="cTable"/> (<c>CellSize</c> floats each), read as c_prev and overwritten
    /// with the new c. The indices must be distinct. <paramref name="xh"/> and <paramref name="h"/> as in
    /// <see cref="Step(int, ReadOnlySpan{float}, Span{float}, Span{float})"/>. A state arena passes its c block and
    /// the batch's slots, so no c is gathered or scattered around the step.
    /// </summary>
    public void Step(int rows, ReadOnlySpan<float> xh, Span<float> cTable, ReadOnlySpan<int> cRowIndex, Span<float> h)
    {
        var layer = Layer;
        int cells = layer.CellSize, gw = layer.GateWidth;
        bool indexed = !cRowIndex.IsEmpty;
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "row count must not be negative");
        if (rows == 0) return;
        if (xh.Length < (long)rows * layer.ConcatSize) throw new ArgumentException($"xh has {xh.Length} values, fewer than rows {rows} × ConcatSize {layer.ConcatSize}", nameof(xh));
        if (h.Length < (long)rows * layer.OutputSize) throw new ArgumentException($"h has {h.Length} values, fewer than rows {rows} × OutputSize {layer.OutputSize}", nameof(h));
        if (!indexed)
        {
            if (cTable.Length < (long)rows * cells) throw new ArgumentException($"c has {cTable.Length} values, fewer than rows {rows} × CellSize {cells}", nameof(cTable));
        }
        else
        {
            CheckRowIndices(cRowIndex, rows, cTable.Length / cells, nameof(cRowIndex), "the c table's");
        }

        var m = _projection is null ? h : Scratch(ref _cellOutput, rows * cells);
        if (FusedBackendFor(rows) is { } managed)
        {
            fixed (float* pxh = xh)
            fixed (float* pc = cTable)
            fixed (int* index = cRowIndex)
            fixed (float* pm = m)
            {
                _fused!.Run(managed, rows, pxh, pc, indexed ? index : null, pm);
            }
        }
        else
        {
            // The whole-batch path works on contiguous c: gather the indexed rows first, scatter them after.
            var c = indexed ? Scratch(ref _gatheredC, rows * cells) : cTable;
            if (indexed)
            {
                for (var r = 0; r < rows; r++) cTable.Slice(cRowIndex[r] * cells, cells).CopyTo(c.Slice(r * cells, cells));
            }

            var gates = Scratch(ref _gates, rows * gw);
            var regrouped = _flat ? Scratch(ref _gateMajor, 4 * rows * cells) : default;
            if (!TryStepRowParts(rows, xh, c, m, gates, regrouped))
            {
                _backend.Multiply(xh[..(rows * layer.ConcatSize)], rows, _kernel!, layer.Bias, gates);
                UpdateRows(rows, gates, c, m, regrouped);
            }

            if (indexed)
            {
                for (var r = 0; r < rows; r++) c.Slice(r * cells, cells).CopyTo(cTable.Slice(cRowIndex[r] * cells, cells));
            }
        }

        if (_projection is not null)
        {
            var outs = h[..(rows * layer.OutputSize)];
            _backend.Multiply(m[..(rows * cells)], rows, _projection, default, outs);
            if (layer.ProjectionClip is { } pc) TensorPrimitives.Clamp(outs, -pc, pc, outs);
        }
    }

    /// <summary>
    /// Steps <paramref name="rows"/> rows whose state lives in tables of rows (a state arena): row r's input is
    /// <c>x[r · InputSize ..]</c>, its h_prev and c_prev are row <c>rowIndex[r]</c> of <paramref name="hTable"/>
    /// (<c>OutputSize</c> floats each) and <paramref name="cTable"/> (<c>CellSize</c> each); both are overwritten with
    /// the new state, and the new h also goes to <paramref name="h"/> <c>[rows × OutputSize]</c>. The indices must be
    /// distinct. On the fused path the multiply reads each row's x and h_prev where they lie and each thread writes
    /// back the rows it steps; otherwise the rows are gathered into <c>[x | h_prev]</c> first and h is written back after.
    /// </summary>
    public void StepInPlace(int rows, ReadOnlySpan<float> x, Span<float> hTable, Span<float> cTable, ReadOnlySpan<int> rowIndex, Span<float> h)
    {
        var layer = Layer;
        int inputs = layer.InputSize, outs = layer.OutputSize, cells = layer.CellSize, concat = layer.ConcatSize;
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "row count must not be negative");
        if (rows == 0) return;
        if (x.Length < (long)rows * inputs) throw new ArgumentException($"x has {x.Length} values, fewer than rows {rows} × InputSize {inputs}", nameof(x));
        if (h.Length < (long)rows * outs) throw new ArgumentException($"h has {h.Length} values, fewer than rows {rows} × OutputSize {outs}", nameof(h));
        CheckRowIndices(rowIndex, rows, Math.Min(hTable.Length / outs, cTable.Length / cells), nameof(rowIndex), "the state tables'");

        if (_projection is null && FusedBackendFor(rows) is { } managed)
        {
            fixed (float* px = x)
            fixed (float* ph = hTable)
            fixed (float* pc = cTable)
            fixed (int* index = rowIndex)
            fixed (float* pout = h)
            {
                _fused!.RunInPlace(managed, rows, px, inputs, ph, pc, index, pout);
            }

            return;
        }

        var xh = Scratch(ref _gatheredXh, rows * concat);
        for (var r = 0; r < rows; r++)
        {
            x.Slice(r * inputs, inputs).CopyTo(xh.Slice(r * concat, inputs));
            hTable.Slice(rowIndex[r] * outs, outs).CopyTo(xh.Slice(r * concat + inputs, outs));
        }

        Step(rows, xh, cTable, rowIndex, h);
        for (var r = 0; r < rows; r++) h.Slice(r * outs, outs).CopyTo(hTable.Slice(rowIndex[r] * outs, outs));
    }

    /// <summary>Each of the first <paramref name="rows"/> indices must name a row of a table of <paramref name="tableRows"/> rows.</summary>
    private static void CheckRowIndices(ReadOnlySpan<int> index, int rows, int tableRows, string parameter, string table)
    {
        if (index.Length < rows) throw new ArgumentException($"{parameter} has {index.Length} entries, fewer than rows {rows}", parameter);
        for (var r = 0; r < rows; r++)
        {
            if ((uint)index[r] >= (uint)tableRows)
                throw new ArgumentOutOfRangeException(parameter, $"{parameter}[{r}] = {index[r]} is outside {table} {tableRows} rows");
        }
    }

    /// <summary>
    /// The unfused step split by rows over the threads of the managed backend the plan sends <paramref name="rows"/> to
    /// (<see cref="PackedLstmLayer.RowSplitBackendFor"/>): each part multiplies its rows on its own thread and updates
    /// them, so the update (most of the work of a layer narrower than a vector) runs on every core too. Only above
    /// <see cref="ManagedMatMul.ParallelThreshold"/> counting the update (<see cref="RowPartWork"/>) and where the backend
    /// allows the split for the shape (<see cref="ManagedMatMul.MaySplit"/>: from the row count the autotuner measured it
    /// to pay). False, having done nothing, otherwise or when the workers are busy. The same bits as one thread: each
    /// value is the same FMA chain and the same element-wise update.
    /// </summary>
    private bool TryStepRowParts(int rows, ReadOnlySpan<float> xh, Span<float> c, Span<float> m, Span<float> gates, Span<float> regrouped)
    {
        if (RowSplitFor(rows, out var parts) is not { } split) return false;
        fixed (float* pxh = xh)
        fixed (float* pc = c)
        fixed (float* pm = m)
        fixed (float* pg = gates)
        fixed (float* pr = regrouped)
        {
            var job = _rowParts ??= new RowPartsJob(this);
            job.Set(split, rows, parts, pxh, pc, pm, pg, pr);
            try
            {
                return split.TryRunParallel(job, parts);
            }
            finally
            {
                job.Clear();
            }
        }
    }

    /// <summary>Whether an unfused step of <paramref name="rows"/> rows is split by rows over threads (see <see cref="TryStepRowParts"/>).</summary>
    internal bool SplitsRowsFor(int rows) => !IsFusedFor(rows) && RowSplitFor(rows, out _) is not null;

    /// <summary>The managed backend an unfused step of <paramref name="rows"/> rows is split over and into how many parts, or null.</summary>
    private ManagedMatMul? RowSplitFor(int rows, out int parts)
    {
        var layer = Layer;
        parts = 1;
        if (_weights.RowSplitBackendFor(rows) is not { } split) return null;
        parts = RowParts(rows, split.Threads, layer.ConcatSize, layer.GateWidth, layer.CellSize);
        return parts > 1 && split.MaySplit(layer.ConcatSize, layer.GateWidth, rows) ? split : null;
    }

    /// <summary>
    /// Work of one row of an unfused step in multiply-adds: the multiply's, and its update's counted as
    /// <see cref="UpdateWorkPerUnit"/> per cell unit (five activations of tens of operations each, plus the flat
    /// update's regrouping: a rough weight, the split is only judged by it when nothing was measured for the shape).
    /// </summary>
    internal static long RowPartWork(int concat, int gateWidth, int cells) => (long)concat * gateWidth + (long)UpdateWorkPerUnit * cells;

    /// <summary>Multiply-adds one cell unit's update counts as (see <see cref="RowPartWork"/>).</summary>
    internal const int UpdateWorkPerUnit = 256;

    /// <summary>Fewest rows of a part of a row-split step.</summary>
    internal const int MinRowPartRows = 64;

    /// <summary>
    /// Parts a step of <paramref name="rows"/> rows is split into over <paramref name="threads"/> threads: two per thread
    /// (a late worker costs little), each of at least <see cref="MinRowPartRows"/> rows; 1 (not split) when the step's
    /// work (<see cref="RowPartWork"/>) is below <see cref="ManagedMatMul.ParallelThreshold"/>.
    /// </summary>
    internal static int RowParts(int rows, int threads, int concat, int gateWidth, int cells)
    {
        if (threads <= 1 || rows * RowPartWork(concat, gateWidth, cells) < ManagedMatMul.ParallelThreshold) return 1;
        return Math.Clamp(rows / MinRowPartRows, 1, 2 * threads);
    }

    private RowPartsJob? _rowParts;

    /// <summary>The parts of a row-split step (<see cref="TryStepRowParts"/>): the operands as pointers, for one step at a time.</summary>
    private sealed class RowPartsJob(LstmLayerKernel kernel) : IParallelJob
    {
        private ManagedMatMul? _backend;
        private int _rows;
        private int _parts;
        private float* _xh;
        private float* _c;
        private float* _m;
        private float* _gates;
        private float* _regrouped;

        public void Set(ManagedMatMul backend, int rows, int parts, float* xh, float* c, float* m, float* gates, float* regrouped)
        {
            _backend = backend;
            _rows = rows;
            _parts = parts;
            _xh = xh;
            _c = c;
            _m = m;
            _gates = gates;
            _regrouped = regrouped;
        }

        public void Clear()
        {
            _backend = null;
            _xh = _c = _m = _gates = _regrouped = null;
        }

        public void RunPart(int part)
        {
            var layer = kernel.Layer;
            int from = (int)((long)_rows * part / _parts), to = (int)((long)_rows * (part + 1) / _parts), n = to - from;
            if (n <= 0) return;
            int concat = layer.ConcatSize, gw = layer.GateWidth, cells = layer.CellSize;
            var gates = new Span<float>(_gates + (long)from * gw, n * gw);
            // On this thread alone: the backend's workers are claimed by this very job.
            _backend!.Multiply(new ReadOnlySpan<float>(_xh + (long)from * concat, n * concat), n, kernel._weights.RowSplitKernel!, layer.Bias, gates);
            var regrouped = _regrouped is null ? default : new Span<float>(_regrouped + 4L * from * cells, 4 * n * cells);
            kernel.UpdateRows(n, gates, new Span<float>(_c + (long)from * cells, n * cells), new Span<float>(_m + (long)from * cells, n * cells), regrouped);
        }
    }

    /// <summary>The activations and state update of <paramref name="rows"/> rows whose gates are computed.</summary>
    private void UpdateRows(int rows, Span<float> gates, Span<float> c, Span<float> m, Span<float> regrouped)
    {
        switch (_lanes)
        {
            case 16: Update<Simd512, Vector512<float>>(rows, gates, c, m, regrouped); break;
            case 8: Update<Simd256, Vector256<float>>(rows, gates, c, m, regrouped); break;
            default: Update<Simd128, Vector128<float>>(rows, gates, c, m, regrouped); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Update<TOps, TV>(int rows, Span<float> gates, Span<float> c, Span<float> m, Span<float> regrouped)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int cells = Layer.CellSize, gw = Layer.GateWidth;
        fixed (float* z = gates)
        fixed (float* pc = c)
        fixed (float* pm = m)
        fixed (float* pi = _peepholeInput)
        fixed (float* pf = _peepholeForget)
        fixed (float* po = _peepholeOutput)
        {
            if (!_flat)
            {
                for (var r = 0; r < rows; r++)
                {
                    float* zr = z + (long)r * gw;
                    long at = (long)r * cells;
                    LstmCellUpdate.Run<TOps, TV>(_options, zr, zr + cells, zr + 2 * cells, zr + 3 * cells, pc + at, pm + at, pi, pf, po, cells);
                }

                return;
            }

            fixed (float* g = regrouped)
            {
                int total = rows * cells;
                float* gi = g, gj = g + total, gf = g + 2 * total, go = g + 3 * total;
                for (var r = 0; r < rows; r++)
                {
                    float* zr = z + (long)r * gw;
                    int at = r * cells;
                    for (var u = 0; u < cells; u++)
                    {
                        gi[at + u] = zr[u];
                        gj[at + u] = zr[cells + u];
                        gf[at + u] = zr[2 * cells + u];
                        go[at + u] = zr[3 * cells + u];
                    }
                }

                for (var e = 0; e < total; e += _flatChunk)
                {
                    int count = Math.Min(_flatChunk, total - e);
                    LstmCellUpdate.Run<TOps, TV>(_options, gi + e, gj + e, gf + e, go + e, pc + e, pm + e, pi, pf, po, count);
                }
            }
        }
    }

    private static Span<float> Scratch(ref float[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new float[Math.Max(length, buffer.Length * 2)];
        return buffer.AsSpan(0, length);
    }
}
