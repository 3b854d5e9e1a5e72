using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace LstmStream.Tests.Models.Onnx;

/// <summary>
/// Random models (input 1..40, hidden 1..70, 1..3 layers of different sizes, peepholes, bias, clip,
/// input_forget, head with every activation) written by <see cref="OnnxModelWriter"/> and run by ONNX
/// Runtime's LSTM operator, against <see cref="StackedLstm"/> on the same batch with per-row lengths.
/// Odd seeds also pass a random initial state in and compare the final state of every layer.
/// </summary>
public sealed class OnnxRuntimeDifferentialTests(ITestOutputHelper output)
{
    private const double AbsTolerance = 1e-5;
    private const double RelTolerance = 1e-4;

    /// <summary>
    /// Every seed on the managed kernel; a third of them also on each native backend present here or required by
    /// <c>LSTMSTREAM_REQUIRE_NATIVE</c> (a required one that is missing fails instead of dropping out).
    /// </summary>
    public static TheoryData<int, string> Seeds()
    {
        var native = MatMulBackendRegistry.ProbeAll()
            .Where(b => (b.IsAvailable || Numerics.Native.NativeBackendRequirement.IsRequired(b.Name)) && b.Name != MatMulBackendRegistry.Managed)
            .Select(b => b.Name).ToArray();
        var data = new TheoryData<int, string>();
        for (var seed = 1; seed <= 36; seed++)
        {
            data.Add(seed, MatMulBackendRegistry.Managed);
            if (seed % 3 == 0) foreach (var backend in native) data.Add(seed, backend);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_model_matches_ONNX_Runtime(int seed, string backend)
    {
        var spec = RandomLstmModels.Spec(seed);
        var model = RandomLstmModels.Build(spec, seed);
        bool withState = seed % 2 == 1;
        var rng = new Random(seed * 31 + 5);
        int batch = 1 + rng.Next(6), time = 1 + rng.Next(12);
        var lengths = Enumerable.Range(0, batch).Select(b => b == 0 ? time : 1 + rng.Next(time)).ToArray();
        var x = RandomLstmModels.Uniform(rng, batch * time * model.InputSize, 1.5f); // [batch × time × in]

        LstmState? initial = null;
        if (withState)
        {
            initial = new LstmState(batch,
                model.Layers.Select(l => RandomLstmModels.Uniform(rng, batch * l.CellSize, 1f)).ToArray(),
                model.Layers.Select(l => RandomLstmModels.Uniform(rng, batch * l.OutputSize, 1f)).ToArray());
        }

        var ours = new StackedLstm(model, MatMulBackendRegistry.Create(backend)).Run(x, batch, time, lengths, initial);

        var bytes = OnnxModelWriter.ToBytes(model, new OnnxExportOptions { StateInputsOutputs = withState });
        using var session = new InferenceSession(bytes);
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            var timeMajor = new float[x.Length];
            int n = model.InputSize;
            for (var b = 0; b < batch; b++)
            for (var t = 0; t < time; t++)
                x.AsSpan((b * time + t) * n, n).CopyTo(timeMajor.AsSpan((t * batch + b) * n, n));
            inputs[OnnxModelWriter.InputName] = OrtValue.CreateTensorValueFromMemory(timeMajor, [time, batch, n]);
            inputs[OnnxModelWriter.SequenceLengthsName] = OrtValue.CreateTensorValueFromMemory(lengths.ToArray(), [batch]);
            var outputNames = new List<string> { OnnxModelWriter.OutputName };
            if (withState)
            {
                for (var k = 0; k < model.Layers.Count; k++)
                {
                    long hidden = model.Layers[k].CellSize;
                    inputs[OnnxModelWriter.InitialHName(k)] = OrtValue.CreateTensorValueFromMemory((float[])initial!.H[k].Clone(), [1, batch, hidden]);
                    inputs[OnnxModelWriter.InitialCName(k)] = OrtValue.CreateTensorValueFromMemory((float[])initial.C[k].Clone(), [1, batch, hidden]);
                    outputNames.Add(OnnxModelWriter.FinalHName(k));
                    outputNames.Add(OnnxModelWriter.FinalCName(k));
                }
            }

            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs, outputNames);
            var tolerance = new Tolerance(AbsTolerance, RelTolerance);

            var y = results[0].GetTensorDataAsSpan<float>();
            int width = model.OutputSize;
            Assert.Equal(time * batch * width, y.Length);
            for (var b = 0; b < batch; b++)
            for (var t = 0; t < lengths[b]; t++)
            for (var u = 0; u < width; u++)
            {
                var (bb, tt, uu) = (b, t, u);
                tolerance.Check(ours.Outputs[(b * time + t) * width + u], y[(t * batch + b) * width + u], () => $"Y[t={tt}, b={bb}, {uu}]");
            }

            if (withState)
            {
                for (var k = 0; k < model.Layers.Count; k++)
                {
                    var h = results[1 + 2 * k].GetTensorDataAsSpan<float>();
                    var c = results[2 + 2 * k].GetTensorDataAsSpan<float>();
                    for (var i = 0; i < h.Length; i++)
                    {
                        var (kk, ii) = (k, i);
                        tolerance.Check(ours.FinalState.H[k][i], h[i], () => $"Y_h_{kk}[{ii}]");
                        tolerance.Check(ours.FinalState.C[k][i], c[i], () => $"Y_c_{kk}[{ii}]");
                    }
                }
            }

            output.WriteLine($"seed {seed} on {backend}: {spec}; batch {batch}, time {time}, lengths [{string.Join(",", lengths)}], state {withState}: " +
                             $"{tolerance.Compared} values, max abs error {tolerance.MaxAbsError:E3}");
            tolerance.AssertPassed($"seed {seed} ({spec})");
        }
        finally
        {
            foreach (var v in inputs.Values) v.Dispose();
        }
    }
}
