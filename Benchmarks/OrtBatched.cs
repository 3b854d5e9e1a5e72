using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace LstmStream.Benchmarks;

/// <summary>
/// <c>onnxruntime-batched</c>: one <see cref="InferenceSession.RunWithBinding"/> per round steps every live
/// key: X is <c>[1, keys, input]</c>, each layer's state goes in through <c>initial_h_k</c>/<c>initial_c_k</c>
/// and comes back through <c>Y_h_k</c>/<c>Y_c_k</c>. All tensors are pinned managed arrays bound once:
/// two IO bindings whose state inputs and outputs are swapped (ping-pong), so a round copies only the
/// inputs in and allocates nothing.
/// </summary>
internal sealed class OrtBatched : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding[] _bindings = new OrtIoBinding[2];
    private readonly List<OrtValue> _values = [];
    private readonly float[] _x;
    private readonly float[] _y;
    private readonly float[][][] _h; // [parity][layer]
    private readonly float[][][] _c;
    private int _parity;

    public OrtBatched(byte[] onnx, LstmModel model, int keys, int threads, bool spinning)
    {
        Model = model;
        Keys = keys;
        Spinning = spinning;
        _session = OrtSessions.Create(onnx, threads, spinning);
        _x = new float[keys * model.InputSize];
        _y = new float[keys * model.OutputSize];
        _h = new float[2][][];
        _c = new float[2][][];
        for (var p = 0; p < 2; p++)
        {
            _h[p] = model.Layers.Select(l => new float[keys * l.CellSize]).ToArray();
            _c[p] = model.Layers.Select(l => new float[keys * l.CellSize]).ToArray();
        }

        var x = Value(_x, [1, keys, model.InputSize]);
        var y = Value(_y, [1, keys, model.OutputSize]);
        var h = new OrtValue[2][];
        var c = new OrtValue[2][];
        for (var p = 0; p < 2; p++)
        {
            h[p] = model.Layers.Select((l, k) => Value(_h[p][k], [1, keys, l.CellSize])).ToArray();
            c[p] = model.Layers.Select((l, k) => Value(_c[p][k], [1, keys, l.CellSize])).ToArray();
        }

        for (var p = 0; p < 2; p++)
        {
            var binding = _session.CreateIoBinding();
            binding.BindInput(OnnxModelWriter.InputName, x);
            binding.BindOutput(OnnxModelWriter.OutputName, y);
            for (var k = 0; k < model.Layers.Count; k++)
            {
                binding.BindInput(OnnxModelWriter.InitialHName(k), h[p][k]);
                binding.BindInput(OnnxModelWriter.InitialCName(k), c[p][k]);
                binding.BindOutput(OnnxModelWriter.FinalHName(k), h[1 - p][k]);
                binding.BindOutput(OnnxModelWriter.FinalCName(k), c[1 - p][k]);
            }

            _bindings[p] = binding;
        }
    }

    public LstmModel Model { get; }

    public int Keys { get; }

    public bool Spinning { get; }

    /// <summary>The model outputs of the last round, <c>[keys × OutputSize]</c>.</summary>
    public ReadOnlySpan<float> Output => _y;

    /// <summary>Layer <paramref name="layer"/>'s current h of every key.</summary>
    public ReadOnlySpan<float> H(int layer) => _h[_parity][layer];

    /// <summary>Layer <paramref name="layer"/>'s current c of every key.</summary>
    public ReadOnlySpan<float> C(int layer) => _c[_parity][layer];

    public void Reset()
    {
        for (var p = 0; p < 2; p++)
        {
            foreach (var a in _h[p]) Array.Clear(a);
            foreach (var a in _c[p]) Array.Clear(a);
        }

        _parity = 0;
    }

    /// <summary>One step of every key; <paramref name="inputs"/> is <c>[keys × InputSize]</c>.</summary>
    public void Round(ReadOnlySpan<float> inputs)
    {
        inputs.CopyTo(_x);
        _session.RunWithBinding(_runOptions, _bindings[_parity]);
        _parity ^= 1;
    }

    public void Dispose()
    {
        foreach (var b in _bindings) b?.Dispose();
        foreach (var v in _values) v.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }

    private OrtValue Value(float[] data, long[] shape)
    {
        var value = OrtValue.CreateTensorValueFromMemory(data, shape);
        _values.Add(value);
        return value;
    }
}
