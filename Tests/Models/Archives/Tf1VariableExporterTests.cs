using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using static LstmStream.Tests.Models.Archives.ArchiveTestData;

namespace LstmStream.Tests.Models.Archives;

public class Tf1VariableExporterTests
{
    private static float[] Values(Random rng, int n) => Random(rng, "v", 1, n).Values;

    [Theory]
    [InlineData("safetensors", 1.0f)]
    [InlineData("npz", 0.25f)]
    public void Exported_variables_load_back_to_the_same_model(string format, float forgetBias)
    {
        var rng = new Random(61);
        var layers = new List<LstmLayer>
        {
            new(3, 5, Values(rng, (3 + 2) * 20), Values(rng, 20), Values(rng, 5), Values(rng, 5), Values(rng, 5),
                cellClip: 2f, projection: Values(rng, 5 * 2), projectionSize: 2, projectionClip: 0.9f),
            new(2, 4, Values(rng, (2 + 4) * 16), Values(rng, 16), cellClip: 2f),
        };
        var model = new LstmModel(layers, new DenseHead(4, 3, Values(rng, 12), Values(rng, 3), HeadActivation.Softmax));

        var (tensors, options) = Tf1VariableExporter.Export(model, forgetBias);
        var loaded = Load(tensors, format, options);

        // Everything comes back exactly except the forget-gate bias, which went through (b - forget_bias) + forget_bias.
        Assert.Equal(model.Layers.Count, loaded.Layers.Count);
        for (var k = 0; k < model.Layers.Count; k++)
        {
            LstmLayer a = model.Layers[k], b = loaded.Layers[k];
            Assert.Equal((a.InputSize, a.CellSize, a.OutputSize, a.CellClip, a.ProjectionClip), (b.InputSize, b.CellSize, b.OutputSize, b.CellClip, b.ProjectionClip));
            Assert.Equal(a.Kernel, b.Kernel);
            Assert.Equal(a.PeepholeInput, b.PeepholeInput);
            Assert.Equal(a.PeepholeForget, b.PeepholeForget);
            Assert.Equal(a.PeepholeOutput, b.PeepholeOutput);
            Assert.Equal(a.Projection, b.Projection);
            Assert.Equal(a.Bias.Length, b.Bias.Length);
            for (var i = 0; i < a.Bias.Length; i++) Assert.Equal(a.Bias[i], b.Bias[i], 1e-6f);
        }

        Assert.Equal(model.Head!.Weights, loaded.Head!.Weights);
        Assert.Equal(model.Head.Bias, loaded.Head.Bias);
        Assert.Equal(HeadActivation.Softmax, loaded.Head.Activation);
        Assert.Contains(tensors, t => t.Name == "rnn/multi_rnn_cell/cell_1/lstm_cell/kernel");
    }

    [Fact]
    public void ONNX_only_settings_cannot_be_exported()
    {
        var model = new LstmModel([new LstmLayer(1, 1, new float[8], new float[4], gateClip: 3f)]);

        var e = Assert.Throws<ArgumentException>(() => Tf1VariableExporter.Export(model));

        Assert.Contains("layer 0", e.Message);
    }
}
