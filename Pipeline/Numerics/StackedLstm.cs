using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// A whole model on plain arrays, no streaming: a batch × time run with per-row lengths
/// (TensorFlow's dynamic_rnn over a MultiRNNCell), built from one <see cref="LstmLayerKernel"/> per
/// layer. Rows are processed in order of decreasing length, so the rows still running at any step
/// are a prefix of the working buffers and each layer step is one multiply over that prefix, with no
/// gathering of state. Working buffers are kept between runs; nothing is allocated per step.
/// Not thread-safe.
/// </summary>
internal sealed class StackedLstm
{
    private readonly LstmLayerKernel[] _layers;
    private readonly DenseHeadKernel? _head;
    private readonly float[][] _xh;
    private readonly float[][] _c;
    private readonly float[][] _h;
    private float[] _y = [];
    private int[] _order = [];
    private int[] _lengths = [];

    /// <summary>Every layer and the head on one backend.</summary>
    public StackedLstm(LstmModel model, IMatMulBackend backend)
        : this(model, ModelMatMulBackends.Uniform(model, backend))
    {
    }

    /// <summary>Each layer and the head on the backend chosen for it.</summary>
    public StackedLstm(LstmModel model, ModelMatMulBackends backends)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(backends);
        backends.EnsureFits(model);
        Model = model;
        _layers = model.Layers.Select((l, k) => new LstmLayerKernel(l, backends.Layers[k])).ToArray();
        _head = model.Head is null ? null : new DenseHeadKernel(model.Head, backends.Head!);
        _xh = new float[_layers.Length][];
        _c = new float[_layers.Length][];
        _h = new float[_layers.Length][];
        for (var k = 0; k < _layers.Length; k++) _xh[k] = _c[k] = _h[k] = [];
    }

    public LstmModel Model { get; }

    public LstmState ZeroState(int batch) => new(
        batch,
        Model.Layers.Select(l => new float[batch * l.CellSize]).ToArray(),
        Model.Layers.Select(l => new float[batch * l.OutputSize]).ToArray());

    /// <summary>
    /// Runs <paramref name="inputs"/> <c>[batch × time × InputSize]</c> (batch-major). Row b uses its first
    /// <c>lengths[b]</c> steps (all <paramref name="time"/> steps when <paramref name="lengths"/> is empty).
    /// The initial state is zero unless given (it is not modified). Outputs are zero past each row's
    /// length; the final state of a row is its state after its last valid step (its initial state when
    /// its length is 0).
    /// </summary>
    public RnnOutput Run(ReadOnlySpan<float> inputs, int batch, int time, ReadOnlySpan<int> lengths = default,
        LstmState? initialState = null, bool applyHead = true)
    {
        int inSize = Model.InputSize;
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must not be negative");
        if (time < 0) throw new ArgumentOutOfRangeException(nameof(time), time, "time must not be negative");
        if (inputs.Length != (long)batch * time * inSize)
            throw new ArgumentException($"inputs has {inputs.Length} values, expected batch {batch} × time {time} × input {inSize}", nameof(inputs));
        if (!lengths.IsEmpty && lengths.Length != batch)
            throw new ArgumentException($"lengths has {lengths.Length} entries, expected one per row ({batch})", nameof(lengths));
        for (var b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 0 || lengths[b] > time)
                throw new ArgumentOutOfRangeException(nameof(lengths), $"lengths[{b}] = {lengths[b]} is outside 0..{time}");
        }

        if (initialState is not null) Validate(initialState, batch);
        var head = applyHead ? _head : null;
        int width = head?.Head.OutputSize ?? Model.Layers[^1].OutputSize;
        var outputs = new float[(long)batch * time * width];

        // Longest rows first (stable), so the rows running at step t are positions [0, running(t)).
        var order = Grow(ref _order, batch);
        var sorted = Grow(ref _lengths, batch);
        for (var b = 0; b < batch; b++)
        {
            order[b] = b;
            sorted[b] = lengths.IsEmpty ? time : lengths[b];
        }

        if (!lengths.IsEmpty) SortByLengthDescending(order, sorted);

        for (var k = 0; k < _layers.Length; k++)
        {
            var l = _layers[k].Layer;
            var xh = Grow(ref _xh[k], batch * l.ConcatSize);
            var c = Grow(ref _c[k], batch * l.CellSize);
            Grow(ref _h[k], batch * l.OutputSize);
            for (var r = 0; r < batch; r++)
            {
                var hPrev = xh.Slice(r * l.ConcatSize + l.InputSize, l.OutputSize);
                var cPrev = c.Slice(r * l.CellSize, l.CellSize);
                if (initialState is null)
                {
                    hPrev.Clear();
                    cPrev.Clear();
                }
                else
                {
                    initialState.H[k].AsSpan(order[r] * l.OutputSize, l.OutputSize).CopyTo(hPrev);
                    initialState.C[k].AsSpan(order[r] * l.CellSize, l.CellSize).CopyTo(cPrev);
                }
            }
        }

        var y = head is null ? default : Grow(ref _y, batch * width);
        int running = batch;
        for (var t = 0; t < time; t++)
        {
            while (running > 0 && sorted[running - 1] <= t) running--;
            if (running == 0) break;
            var first = _layers[0].Layer;
            for (var r = 0; r < running; r++)
            {
                inputs.Slice((order[r] * time + t) * inSize, inSize).CopyTo(_xh[0].AsSpan(r * first.ConcatSize, inSize));
            }

            for (var k = 0; k < _layers.Length; k++)
            {
                var l = _layers[k].Layer;
                int concat = l.ConcatSize, outs = l.OutputSize;
                var h = _h[k];
                _layers[k].Step(running, _xh[k], _c[k], h);
                // The new h becomes this layer's h_prev and the next layer's x.
                var next = k + 1 < _layers.Length ? _xh[k + 1] : null;
                int nextConcat = k + 1 < _layers.Length ? _layers[k + 1].Layer.ConcatSize : 0;
                for (var r = 0; r < running; r++)
                {
                    var row = h.AsSpan(r * outs, outs);
                    row.CopyTo(_xh[k].AsSpan(r * concat + l.InputSize, outs));
                    if (next is not null) row.CopyTo(next.AsSpan(r * nextConcat, outs));
                }
            }

            ReadOnlySpan<float> top = _h[^1];
            if (head is not null)
            {
                head.Apply(running, top, y);
                top = y;
            }

            for (var r = 0; r < running; r++)
            {
                top.Slice(r * width, width).CopyTo(outputs.AsSpan((order[r] * time + t) * width, width));
            }
        }

        var final = new LstmState(
            batch,
            Model.Layers.Select(l => new float[batch * l.CellSize]).ToArray(),
            Model.Layers.Select(l => new float[batch * l.OutputSize]).ToArray());
        for (var k = 0; k < _layers.Length; k++)
        {
            var l = _layers[k].Layer;
            for (var r = 0; r < batch; r++)
            {
                _c[k].AsSpan(r * l.CellSize, l.CellSize).CopyTo(final.C[k].AsSpan(order[r] * l.CellSize, l.CellSize));
                _xh[k].AsSpan(r * l.ConcatSize + l.InputSize, l.OutputSize).CopyTo(final.H[k].AsSpan(order[r] * l.OutputSize, l.OutputSize));
            }
        }

        return new RnnOutput(outputs, width, final);
    }

    private void Validate(LstmState s, int batch)
    {
        if (s.Batch != batch || s.LayerCount != _layers.Length)
            throw new ArgumentException($"initial state is for batch {s.Batch} and {s.LayerCount} layers, expected {batch} and {_layers.Length}");
        for (var k = 0; k < _layers.Length; k++)
        {
            var l = _layers[k].Layer;
            if (s.C[k].Length != batch * l.CellSize || s.H[k].Length != batch * l.OutputSize)
                throw new ArgumentException($"initial state of layer {k} has the wrong size: c {s.C[k].Length}, h {s.H[k].Length}, expected {batch * l.CellSize}, {batch * l.OutputSize}");
        }
    }

    /// <summary>Stable counting sort of <paramref name="order"/> by <paramref name="keys"/>, longest first (once per run).</summary>
    private static void SortByLengthDescending(Span<int> order, Span<int> keys)
    {
        // Counting sort: lengths are bounded by time, batches can be large.
        int max = 0;
        foreach (var key in keys) max = Math.Max(max, key);
        var counts = new int[max + 2];
        foreach (var key in keys) counts[max - key + 1]++;
        for (var i = 1; i < counts.Length; i++) counts[i] += counts[i - 1];
        var sortedOrder = new int[order.Length];
        var sortedKeys = new int[keys.Length];
        for (var b = 0; b < keys.Length; b++)
        {
            int slot = counts[max - keys[b]]++;
            sortedOrder[slot] = order[b];
            sortedKeys[slot] = keys[b];
        }

        sortedOrder.CopyTo(order);
        sortedKeys.CopyTo(keys);
    }

    private static Span<T> Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
        return buffer.AsSpan(0, length);
    }
}
