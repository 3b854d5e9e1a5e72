using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Benchmarks;

/// <summary>
/// <c>lstmstream-core</c>: the engine's layer kernels stepping every live key once per round, no Akka. Per
/// layer the state of key i lives in row i of contiguous buffers (<c>[x | h]</c>, c, h), which is what the
/// streaming layer stage gathers from its arena; each layer step is one <see cref="LstmLayerKernel.Step"/>
/// (one matrix multiply for all keys), then h is copied into this layer's h_prev and the next layer's x,
/// and the head is applied to the top layer. Nothing is allocated per round.
/// </summary>
internal sealed class CoreStack
{
    private readonly LstmLayerKernel[] _layers;
    private readonly DenseHeadKernel? _head;
    private readonly float[][] _xh;
    private readonly float[][] _c;
    private readonly float[][] _h;
    private readonly float[] _y;

    public CoreStack(LstmModel model, IReadOnlyList<IMatMulBackend> layerBackends, IMatMulBackend? headBackend, int keys)
    {
        Model = model;
        Keys = keys;
        _layers = model.Layers.Select((l, k) => new LstmLayerKernel(l, layerBackends[k])).ToArray();
        _head = model.Head is { } head ? new DenseHeadKernel(head, headBackend ?? throw new ArgumentException("the model has a head but no head backend was given")) : null;
        _xh = model.Layers.Select(l => new float[keys * l.ConcatSize]).ToArray();
        _c = model.Layers.Select(l => new float[keys * l.CellSize]).ToArray();
        _h = model.Layers.Select(l => new float[keys * l.OutputSize]).ToArray();
        _y = new float[keys * model.OutputSize];
    }

    public LstmModel Model { get; }

    public int Keys { get; }

    /// <summary>The model outputs of the last round, <c>[keys × OutputSize]</c>.</summary>
    public ReadOnlySpan<float> Output => _head is null ? _h[^1] : _y;

    /// <summary>Layer <paramref name="layer"/>'s current h of every key, <c>[keys × OutputSize]</c>.</summary>
    public ReadOnlySpan<float> H(int layer) => _h[layer];

    /// <summary>Layer <paramref name="layer"/>'s current c of every key, <c>[keys × CellSize]</c>.</summary>
    public ReadOnlySpan<float> C(int layer) => _c[layer];

    /// <summary>Zero state for every key.</summary>
    public void Reset()
    {
        foreach (var a in _xh) Array.Clear(a);
        foreach (var a in _c) Array.Clear(a);
        foreach (var a in _h) Array.Clear(a);
    }

    /// <summary>One step of every key; <paramref name="inputs"/> is <c>[keys × InputSize]</c>.</summary>
    public void Round(ReadOnlySpan<float> inputs)
    {
        int keys = Keys, inSize = Model.InputSize;
        var first = _xh[0];
        int firstConcat = _layers[0].Layer.ConcatSize;
        for (var r = 0; r < keys; r++) inputs.Slice(r * inSize, inSize).CopyTo(first.AsSpan(r * firstConcat, inSize));

        for (var k = 0; k < _layers.Length; k++)
        {
            var layer = _layers[k].Layer;
            int concat = layer.ConcatSize, outs = layer.OutputSize, input = layer.InputSize;
            var h = _h[k];
            var xh = _xh[k];
            _layers[k].Step(keys, xh, _c[k], h);
            var next = k + 1 < _layers.Length ? _xh[k + 1] : null;
            int nextConcat = next is null ? 0 : _layers[k + 1].Layer.ConcatSize;
            for (var r = 0; r < keys; r++)
            {
                var row = h.AsSpan(r * outs, outs);
                row.CopyTo(xh.AsSpan(r * concat + input, outs));
                if (next is not null) row.CopyTo(next.AsSpan(r * nextConcat, outs));
            }
        }

        _head?.Apply(keys, _h[^1], _y);
    }
}
