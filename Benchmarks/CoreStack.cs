using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Benchmarks;

/// <summary>
/// <c>lstmstream-core</c>: the engine's layer kernels stepping every live key once per round, no Akka. Per
/// layer the state of key i lives in row i of an h table and a c table, as in the streaming layer stage's
/// arena; each layer step is one <see cref="LstmLayerKernel.StepInPlace"/> (one matrix multiply for all keys,
/// state read and written in place), its h output is the next layer's x, and the head is applied to the top
/// layer. Nothing is allocated per round.
/// </summary>
internal sealed class CoreStack
{
    private readonly LstmLayerKernel[] _layers;
    private readonly DenseHeadKernel? _head;
    private readonly float[][] _hTable;
    private readonly float[][] _c;
    private readonly float[][] _h;
    private readonly float[] _y;
    private readonly int[] _slots;

    public CoreStack(LstmModel model, IReadOnlyList<IMatMulBackend> layerBackends, IMatMulBackend? headBackend, int keys)
    {
        Model = model;
        Keys = keys;
        _layers = model.Layers.Select((l, k) => new LstmLayerKernel(l, layerBackends[k])).ToArray();
        _head = model.Head is { } head ? new DenseHeadKernel(head, headBackend ?? throw new ArgumentException("the model has a head but no head backend was given")) : null;
        _hTable = model.Layers.Select(l => new float[keys * l.OutputSize]).ToArray();
        _slots = Enumerable.Range(0, keys).ToArray();
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
        foreach (var a in _hTable) Array.Clear(a);
        foreach (var a in _c) Array.Clear(a);
        foreach (var a in _h) Array.Clear(a);
    }

    /// <summary>One step of every key; <paramref name="inputs"/> is <c>[keys × InputSize]</c>.</summary>
    public void Round(ReadOnlySpan<float> inputs)
    {
        int keys = Keys;
        var x = inputs[..(keys * Model.InputSize)];
        for (var k = 0; k < _layers.Length; k++)
        {
            _layers[k].StepInPlace(keys, x, _hTable[k], _c[k], _slots, _h[k]);
            x = _h[k];
        }

        _head?.Apply(keys, _h[^1], _y);
    }
}
