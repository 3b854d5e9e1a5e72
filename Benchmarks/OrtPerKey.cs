using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace LstmStream.Benchmarks;

/// <summary>
/// <c>onnxruntime-per-key</c>: what a user writes first, done carefully: one run per key per step with a
/// batch of 1. The key's state is copied into pinned input tensors bound once, the run writes the next
/// state into pinned output tensors, which are copied back into the key's slot. Keys are stepped round
/// robin, so <see cref="Calls"/> calls are <c>Calls / keys</c> rounds.
/// </summary>
internal sealed class OrtPerKey : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding _binding;
    private readonly List<OrtValue> _values = [];
    private readonly float[] _x;
    private readonly float[] _y;
    private readonly float[][] _hIn, _cIn, _hOut, _cOut;
    private readonly float[][] _h, _c; // [layer][keys × cells]
    private readonly float[] _outputs;
    private long _calls;

    public OrtPerKey(byte[] onnx, LstmModel model, int keys, int threads, bool spinning)
    {
        Model = model;
        Keys = keys;
        _session = OrtSessions.Create(onnx, threads, spinning);
        _x = new float[model.InputSize];
        _y = new float[model.OutputSize];
        _hIn = model.Layers.Select(l => new float[l.CellSize]).ToArray();
        _cIn = model.Layers.Select(l => new float[l.CellSize]).ToArray();
        _hOut = model.Layers.Select(l => new float[l.CellSize]).ToArray();
        _cOut = model.Layers.Select(l => new float[l.CellSize]).ToArray();
        _h = model.Layers.Select(l => new float[keys * l.CellSize]).ToArray();
        _c = model.Layers.Select(l => new float[keys * l.CellSize]).ToArray();
        _outputs = new float[keys * model.OutputSize];

        _binding = _session.CreateIoBinding();
        _binding.BindInput(OnnxModelWriter.InputName, Value(_x, [1, 1, model.InputSize]));
        _binding.BindOutput(OnnxModelWriter.OutputName, Value(_y, [1, 1, model.OutputSize]));
        for (var k = 0; k < model.Layers.Count; k++)
        {
            long cells = model.Layers[k].CellSize;
            _binding.BindInput(OnnxModelWriter.InitialHName(k), Value(_hIn[k], [1, 1, cells]));
            _binding.BindInput(OnnxModelWriter.InitialCName(k), Value(_cIn[k], [1, 1, cells]));
            _binding.BindOutput(OnnxModelWriter.FinalHName(k), Value(_hOut[k], [1, 1, cells]));
            _binding.BindOutput(OnnxModelWriter.FinalCName(k), Value(_cOut[k], [1, 1, cells]));
        }
    }

    public LstmModel Model { get; }

    public int Keys { get; }

    /// <summary>Runs made so far (key-steps).</summary>
    public long Calls => _calls;

    /// <summary>Every key's latest output, <c>[keys × OutputSize]</c>.</summary>
    public ReadOnlySpan<float> Output => _outputs;

    public ReadOnlySpan<float> H(int layer) => _h[layer];

    public ReadOnlySpan<float> C(int layer) => _c[layer];

    public void Reset()
    {
        foreach (var a in _h) Array.Clear(a);
        foreach (var a in _c) Array.Clear(a);
        _calls = 0;
    }

    /// <summary>Makes <paramref name="calls"/> runs, continuing the round robin over the keys.</summary>
    public void Step(int calls, InputRounds inputs)
    {
        var layers = Model.Layers;
        int outs = Model.OutputSize;
        for (var i = 0; i < calls; i++)
        {
            var key = (int)(_calls % Keys);
            var step = _calls / Keys;
            inputs.Row(step, key).CopyTo(_x);
            for (var k = 0; k < layers.Count; k++)
            {
                int cells = layers[k].CellSize;
                _h[k].AsSpan(key * cells, cells).CopyTo(_hIn[k]);
                _c[k].AsSpan(key * cells, cells).CopyTo(_cIn[k]);
            }

            _session.RunWithBinding(_runOptions, _binding);
            for (var k = 0; k < layers.Count; k++)
            {
                int cells = layers[k].CellSize;
                _hOut[k].CopyTo(_h[k].AsSpan(key * cells, cells));
                _cOut[k].CopyTo(_c[k].AsSpan(key * cells, cells));
            }

            _y.CopyTo(_outputs.AsSpan(key * outs, outs));
            _calls++;
        }
    }

    public void Dispose()
    {
        _binding.Dispose();
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
