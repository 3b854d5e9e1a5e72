using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// A whole model on plain arrays, no streaming: a batch × time run with per-row lengths
/// (dynamic_rnn), built from one <see cref="LstmLayerKernel"/> per layer. Not thread-safe.
/// </summary>
public sealed class StackedLstm
{
    private readonly LstmLayerKernel[] _layers;
    private readonly DenseHeadKernel? _head;

    public StackedLstm(LstmModel model, IMatMulBackend backend)
    {
        Model = model;
        _layers = model.Layers.Select(l => new LstmLayerKernel(l, backend)).ToArray();
        _head = model.Head is null ? null : new DenseHeadKernel(model.Head, backend);
    }

    public LstmModel Model { get; }

    public LstmState ZeroState(int batch) => new(
        batch,
        Model.Layers.Select(l => new float[batch * l.CellSize]).ToArray(),
        Model.Layers.Select(l => new float[batch * l.OutputSize]).ToArray());

    /// <summary>
    /// Runs <paramref name="inputs"/> <c>[batch × time × InputSize]</c> (batch-major). Row b uses its first
    /// <c>lengths[b]</c> steps (all <paramref name="time"/> steps when <paramref name="lengths"/> is empty).
    /// The initial state is zero unless given (it is not modified).
    /// </summary>
    public RnnOutput Run(ReadOnlySpan<float> inputs, int batch, int time, ReadOnlySpan<int> lengths = default,
        LstmState? initialState = null, bool applyHead = true)
    {
        int inSize = Model.InputSize;
        if (inputs.Length != batch * time * inSize)
            throw new ArgumentException($"inputs has {inputs.Length} values, expected batch {batch} × time {time} × input {inSize}", nameof(inputs));
        if (!lengths.IsEmpty && lengths.Length != batch)
            throw new ArgumentException($"lengths has {lengths.Length} entries, expected one per row ({batch})", nameof(lengths));
        for (var b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 0 || lengths[b] > time)
                throw new ArgumentOutOfRangeException(nameof(lengths), $"lengths[{b}] = {lengths[b]} is outside 0..{time}");
        }

        var state = initialState is null ? ZeroState(batch) : Copy(initialState, batch);
        var head = applyHead ? _head : null;
        int width = head?.Head.OutputSize ?? Model.Layers[^1].OutputSize;
        var outputs = new float[batch * time * width];

        var active = new int[batch];
        int maxConcat = _layers.Max(l => l.Layer.ConcatSize);
        var xh = new float[batch * maxConcat];
        var c = new float[batch * _layers.Max(l => l.Layer.CellSize)];
        var h = new float[batch * Math.Max(width, _layers.Max(l => l.Layer.OutputSize))];
        var y = head is null ? null : new float[batch * width];

        for (var t = 0; t < time; t++)
        {
            var rows = 0;
            for (var b = 0; b < batch; b++)
            {
                if (lengths.IsEmpty || t < lengths[b]) active[rows++] = b;
            }

            if (rows == 0) break;
            var x = h.AsSpan();
            for (var k = 0; k < _layers.Length; k++)
            {
                var layer = _layers[k].Layer;
                int concat = layer.ConcatSize, cells = layer.CellSize, outs = layer.OutputSize;
                for (var r = 0; r < rows; r++)
                {
                    var b = active[r];
                    var row = xh.AsSpan(r * concat, concat);
                    if (k == 0) inputs.Slice((b * time + t) * inSize, inSize).CopyTo(row);
                    else x.Slice(r * layer.InputSize, layer.InputSize).CopyTo(row);
                    state.H[k].AsSpan(b * outs, outs).CopyTo(row[layer.InputSize..]);
                    state.C[k].AsSpan(b * cells, cells).CopyTo(c.AsSpan(r * cells, cells));
                }

                _layers[k].Step(rows, xh, c, h);
                for (var r = 0; r < rows; r++)
                {
                    var b = active[r];
                    c.AsSpan(r * cells, cells).CopyTo(state.C[k].AsSpan(b * cells, cells));
                    h.AsSpan(r * outs, outs).CopyTo(state.H[k].AsSpan(b * outs, outs));
                }

                x = h;
            }

            var top = h.AsSpan();
            if (head is not null)
            {
                head.Apply(rows, h, y);
                top = y;
            }

            for (var r = 0; r < rows; r++)
            {
                top.Slice(r * width, width).CopyTo(outputs.AsSpan((active[r] * time + t) * width, width));
            }
        }

        return new RnnOutput(outputs, width, state);
    }

    private LstmState Copy(LstmState s, int batch)
    {
        if (s.Batch != batch || s.LayerCount != _layers.Length)
            throw new ArgumentException($"initial state is for batch {s.Batch} and {s.LayerCount} layers, expected {batch} and {_layers.Length}");
        for (var k = 0; k < _layers.Length; k++)
        {
            var l = _layers[k].Layer;
            if (s.C[k].Length != batch * l.CellSize || s.H[k].Length != batch * l.OutputSize)
                throw new ArgumentException($"initial state of layer {k} has the wrong size: c {s.C[k].Length}, h {s.H[k].Length}, expected {batch * l.CellSize}, {batch * l.OutputSize}");
        }

        return new LstmState(batch, s.C.Select(a => (float[])a.Clone()).ToArray(), s.H.Select(a => (float[])a.Clone()).ToArray());
    }
}
