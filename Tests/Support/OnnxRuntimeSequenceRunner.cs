using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace LstmStream.Tests.Support;

/// <summary>
/// The reference side of differential tests: a model exported by our ONNX writer, run by ONNX Runtime's
/// LSTM operator over one sequence from zero state.
/// </summary>
public static class OnnxRuntimeSequenceRunner
{
    /// <summary>The model output of every step of <paramref name="steps"/> (each of InputSize values).</summary>
    public static float[][] Run(LstmModel model, float[][] steps)
    {
        var bytes = OnnxModelWriter.ToBytes(model, new OnnxExportOptions { SequenceLengths = false });
        using var session = new InferenceSession(bytes);
        int n = model.InputSize, width = model.OutputSize;
        var x = new float[steps.Length * n];
        for (var t = 0; t < steps.Length; t++) steps[t].CopyTo(x, t * n);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [steps.Length, 1, n]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [OnnxModelWriter.InputName], [input], [OnnxModelWriter.OutputName]);
        var y = results[0].GetTensorDataAsSpan<float>();
        if (y.Length != steps.Length * width) throw new InvalidOperationException($"ONNX Runtime returned {y.Length} values, expected {steps.Length} × {width}");
        var outputs = new float[steps.Length][];
        for (var t = 0; t < steps.Length; t++) outputs[t] = y.Slice(t * width, width).ToArray();
        return outputs;
    }
}
