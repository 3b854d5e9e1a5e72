using LstmStream.Pipeline.Models.Onnx;
using LstmStream.Pipeline.Models.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace LstmStream.Tests.Models.Onnx;

/// <summary>
/// Each golden model, imported and written back by <see cref="OnnxModelWriter"/> to a file, runs in ONNX
/// Runtime with the same outputs as the original file, and the written file has the documented interface.
/// </summary>
public sealed class OnnxModelWriterTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases() => GoldenOnnxImportTests.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Exported_golden_model_runs_like_the_original(string name)
    {
        var original = Path.Combine(LstmStream.Tests.Support.SharedData.Golden, name, "model.onnx");
        var model = OnnxModelImporter.Load(original);
        var exported = Path.Combine(Path.GetTempPath(), $"onnx-writer-{name}-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxModelWriter.Write(model, exported);

            var rng = new Random(name.Length * 131);
            const int seq = 7, batch = 3;
            var x = RandomLstmModels.Uniform(rng, seq * batch * model.InputSize, 1.5f);
            int[] lengths = [seq, 4, 1];
            var expected = Run(original, x, lengths, seq, batch, model.InputSize);
            var actual = Run(exported, x, lengths, seq, batch, model.InputSize);
            Assert.Equal(expected.Length, actual.Length);
            var tolerance = new Tolerance(1e-6, 1e-5);
            int width = model.OutputSize;
            for (var t = 0; t < seq; t++)
            for (var b = 0; b < batch; b++)
            {
                if (t >= lengths[b]) continue; // past a row's length the original head sees zeros, as does ours
                for (var u = 0; u < width; u++)
                {
                    int at = (t * batch + b) * width + u;
                    tolerance.Check(actual[at], expected[at], () => $"{name} Y[{t}, {b}, {u}]");
                }
            }

            output.WriteLine($"{name}: {tolerance.Compared} values, max abs error {tolerance.MaxAbsError:E3}");
            tolerance.AssertPassed(name);
        }
        finally
        {
            File.Delete(exported);
        }
    }

    [Fact]
    public void State_option_adds_per_layer_state_inputs_and_outputs()
    {
        var model = RandomLstmModels.Build(RandomLstmModels.Spec(6), 6);
        var proto = ModelProto.Parser.ParseFrom(OnnxModelWriter.ToBytes(model, new OnnxExportOptions { StateInputsOutputs = true, SequenceLengths = false }));
        Assert.Equal(OnnxModelWriter.Opset, proto.OpsetImport.Single().Version);
        var inputs = proto.Graph.Input.Select(i => i.Name).ToList();
        var outputs = proto.Graph.Output.Select(o => o.Name).ToList();
        var expectedInputs = new List<string> { OnnxModelWriter.InputName };
        var expectedOutputs = new List<string> { OnnxModelWriter.OutputName };
        for (var k = 0; k < model.Layers.Count; k++)
        {
            expectedInputs.AddRange([OnnxModelWriter.InitialHName(k), OnnxModelWriter.InitialCName(k)]);
            expectedOutputs.AddRange([OnnxModelWriter.FinalHName(k), OnnxModelWriter.FinalCName(k)]);
        }

        Assert.Equal(expectedInputs, inputs);
        Assert.Equal(expectedOutputs, outputs);
        var x = proto.Graph.Input[0].Type.TensorType.Shape.Dim;
        Assert.Equal(["seq", "batch"], x.Take(2).Select(d => d.DimParam));
        Assert.Equal(model.InputSize, x[2].DimValue);
    }

    private static float[] Run(string path, float[] x, int[] lengths, int seq, int batch, int inputSize)
    {
        using var session = new InferenceSession(path);
        using var xv = OrtValue.CreateTensorValueFromMemory(x, [seq, batch, inputSize]);
        using var lv = OrtValue.CreateTensorValueFromMemory(lengths, [batch]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, new Dictionary<string, OrtValue> { ["X"] = xv, ["sequence_lens"] = lv }, ["Y"]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
