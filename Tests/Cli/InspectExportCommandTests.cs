using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using LstmStream.Tests.Golden;

namespace LstmStream.Tests.Cli;

/// <summary>The <c>inspect</c>, <c>export</c> and <c>demo-model</c> verbs.</summary>
public sealed class InspectExportCommandTests : IDisposable
{
    private readonly CliTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Inspect_prints_layers_head_and_parameter_count()
    {
        var golden = GoldenCase.Load("head");

        var run = await CliRun.InvokeAsync("inspect", "--model", golden.Model);

        Assert.Equal(0, run.ExitCode);
        var model = ModelLoader.Load(golden.Model);
        Assert.Contains("10 → lstm 16 → dense 3 (sigmoid)", run.Output);
        Assert.Contains($"parameters: {model.ParameterCount:N0}", run.Output);
        Assert.Contains(model.Identity, run.Output);
    }

    [Fact]
    public async Task Inspect_shows_peepholes_and_projection_of_tf1_weights()
    {
        var source = new LstmModel([
            new LstmLayer(3, 4, new float[(3 + 2) * 16], new float[16], new float[4], new float[4], new float[4],
                projection: new float[4 * 2], projectionSize: 2),
        ]);
        var (tensors, _) = Tf1VariableExporter.Export(source);
        var path = _files.PathOf("tf1.npz");
        NpzWriter.Write(path, tensors);

        var run = await CliRun.InvokeAsync("inspect", "--model", path);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("3 → lstm 4/proj 2", run.Output);
        Assert.Matches(@"0\s+lstm\s+3\s+4\s+2\s+yes\s+2", run.Output);
    }

    [Fact]
    public async Task Export_writes_an_onnx_graph_that_runs_the_same_as_the_source()
    {
        var source = RandomModel.Create(5, [6, 3], headOutputs: 2, HeadActivation.Softmax, seed: 21);
        var npz = _files.PathOf("torch.npz");
        NpzWriter.Write(npz, PyTorchTensors(source));
        var onnx = _files.PathOf("exported.onnx");

        var run = await CliRun.InvokeAsync("export", "--model", npz, "--out", onnx, "--head-activation", "softmax");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("exported.onnx", run.Output);
        var exported = ModelLoader.Load(onnx);
        Assert.Equal(source.Identity, exported.Identity);
    }

    [Fact]
    public async Task Demo_model_recipe_reproduces_the_shipped_model()
    {
        var path = _files.PathOf("demo.onnx");

        var run = await CliRun.InvokeAsync("demo-model", "--out", path);

        Assert.Equal(0, run.ExitCode);
        var shipped = ModelLoader.Load(Path.Combine(Support.SharedData.RepositoryRoot, "models", "demo.onnx"));
        Assert.Equal(shipped.Identity, ModelLoader.Load(path).Identity);
    }

    /// <summary>PyTorch nn.LSTM + nn.Linear names and layouts (gate order i, f, g, o; W_ih [4H, in]) for <paramref name="model"/>.</summary>
    private static List<NamedTensor> PyTorchTensors(LstmModel model)
    {
        var tensors = new List<NamedTensor>();
        int[] ourBlockOfTorchGate = [0, 2, 1, 3]; // torch i, f, g, o → our blocks i, j, f, o
        for (var k = 0; k < model.Layers.Count; k++)
        {
            var l = model.Layers[k];
            int h = l.CellSize;
            var wih = new float[4 * h * l.InputSize];
            var whh = new float[4 * h * l.OutputSize];
            var bias = new float[4 * h];
            for (var g = 0; g < 4; g++)
            for (var u = 0; u < h; u++)
            {
                var column = ourBlockOfTorchGate[g] * h + u;
                var row = g * h + u;
                for (var i = 0; i < l.InputSize; i++) wih[row * l.InputSize + i] = l.Kernel[i * l.GateWidth + column];
                for (var j = 0; j < l.OutputSize; j++) whh[row * l.OutputSize + j] = l.Kernel[(l.InputSize + j) * l.GateWidth + column];
                bias[row] = l.Bias[column];
            }

            tensors.Add(new NamedTensor($"lstm.weight_ih_l{k}", [4 * h, l.InputSize], wih));
            tensors.Add(new NamedTensor($"lstm.weight_hh_l{k}", [4 * h, l.OutputSize], whh));
            tensors.Add(new NamedTensor($"lstm.bias_ih_l{k}", [4 * h], bias));
            tensors.Add(new NamedTensor($"lstm.bias_hh_l{k}", [4 * h], new float[4 * h]));
        }

        var head = model.Head!;
        var w = new float[head.OutputSize * head.InputSize];
        for (var o = 0; o < head.OutputSize; o++)
        for (var i = 0; i < head.InputSize; i++) w[o * head.InputSize + i] = head.Weights[i * head.OutputSize + o];
        tensors.Add(new NamedTensor("fc.weight", [head.OutputSize, head.InputSize], w));
        tensors.Add(new NamedTensor("fc.bias", [head.OutputSize], head.Bias));
        return tensors;
    }
}
