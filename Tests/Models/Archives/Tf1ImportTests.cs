using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using static LstmStream.Tests.Models.Archives.ArchiveTestData;

namespace LstmStream.Tests.Models.Archives;

public class Tf1ImportTests
{
    private static Tf1CellVariables Cell(Random rng, string scope, int input, int units, bool peepholes = false, int proj = 0,
        float scale = 0.6f, string kernel = "kernel", string bias = "bias")
    {
        int output = proj > 0 ? proj : units;
        return new Tf1CellVariables(
            Random(rng, $"{scope}/{kernel}", scale, input + output, 4 * units),
            Random(rng, $"{scope}/{bias}", 0.5f, 4 * units),
            peepholes ? Random(rng, $"{scope}/w_i_diag", 0.8f, units) : null,
            peepholes ? Random(rng, $"{scope}/w_f_diag", 0.8f, units) : null,
            peepholes ? Random(rng, $"{scope}/w_o_diag", 0.8f, units) : null,
            proj > 0 ? Random(rng, $"{scope}/projection/{kernel}", 0.9f, units, proj) : null);
    }

    private static IEnumerable<NamedTensor> Flatten(IEnumerable<Tf1CellVariables> cells) =>
        cells.SelectMany(c => new[] { c.Kernel, c.Bias, c.WiDiag, c.WfDiag, c.WoDiag, c.Projection }.OfType<NamedTensor>());

    [Theory]
    [InlineData(1.0f, "npz")]
    [InlineData(0.0f, "safetensors")]
    [InlineData(-0.7f, "npz-compressed")]
    public void Basic_MultiRNNCell_matches_TF1_equations(float forgetBias, string format)
    {
        var rng = new Random(41);
        // The tutorial's stack: 6 inputs -> 4 -> 5.
        var cells = new[]
        {
            Cell(rng, "rnn/multi_rnn_cell/cell_0/basic_lstm_cell", 6, 4),
            Cell(rng, "rnn/multi_rnn_cell/cell_1/basic_lstm_cell", 4, 5),
        };

        var model = Load(Flatten(cells.Reverse()), format, new ModelLoadOptions { ForgetBias = forgetBias });

        Assert.Equal([4, 5], model.Layers.Select(l => l.CellSize));
        AssertMatchesReference(model, new Tf1ReferenceLstm(cells, forgetBias).Run, seed: 301);
    }

    [Fact]
    public void Default_forget_bias_is_one()
    {
        var rng = new Random(42);
        var cells = new[] { Cell(rng, "basic_lstm_cell", 3, 2) };

        var model = Load(Flatten(cells), "npz");

        Assert.Equal(cells[0].Bias.Values[4] + 1f, model.Layers[0].Bias[4]);
        Assert.Equal(cells[0].Bias.Values[0], model.Layers[0].Bias[0]);
        AssertMatchesReference(model, new Tf1ReferenceLstm(cells, 1.0).Run, seed: 302);
    }

    [Fact]
    public void LSTM_cells_with_peepholes_projection_clips_and_head_match_TF1_equations()
    {
        var rng = new Random(43);
        const string scope = "model/encoder/rnn/multi_rnn_cell";
        var cells = new[]
        {
            Cell(rng, $"{scope}/cell_0/lstm_cell", 5, 6, peepholes: true, proj: 4, scale: 1.2f),
            Cell(rng, $"{scope}/cell_1/lstm_cell", 4, 3, scale: 1.2f),
            Cell(rng, $"{scope}/cell_2/lstm_cell", 3, 5, peepholes: true, proj: 2, scale: 1.2f),
        };
        var headKernel = Random(rng, "model/dense/kernel:0", 1, 2, 3);
        var headBias = Random(rng, "model/dense/bias:0", 0.3f, 3);
        var tensors = Flatten(cells).Select(t => new NamedTensor(t.Name + ":0", t.Shape, t.Values)).Append(headKernel).Append(headBias);
        var options = new ModelLoadOptions { ForgetBias = 0.5f, CellClip = 0.5f, ProjectionClip = 0.3f, HeadActivation = HeadActivation.Relu };

        var model = Load(tensors, "safetensors", options);

        Assert.True(model.Layers[0].HasPeepholes && model.Layers[0].HasProjection);
        Assert.False(model.Layers[1].HasPeepholes || model.Layers[1].HasProjection);
        Assert.Equal(0.3f, model.Layers[2].ProjectionClip);
        Assert.All(model.Layers, l => Assert.Equal(0.5f, l.CellClip));
        var reference = new Tf1ReferenceLstm(cells, 0.5, cellClip: 0.5, projClip: 0.3, head: (headKernel, headBias), headActivation: HeadActivation.Relu);
        AssertMatchesReference(model, reference.Run, seed: 303);

        // The clips are active on these weights: without them the reference gives other outputs.
        var steps = Enumerable.Range(0, 6).Select(t => Enumerable.Range(0, 5).Select(i => (float)Math.Sin(3 * t + i) * 2).ToArray()).ToArray();
        var clipped = new Tf1ReferenceLstm(cells, 0.5, cellClip: 0.5, projClip: 0.3).Run(steps);
        foreach (var (cell, proj) in new (double?, double?)[] { (0.5, null), (null, 0.3) })
        {
            var other = new Tf1ReferenceLstm(cells, 0.5, cellClip: cell, projClip: proj).Run(steps);
            Assert.Contains(Enumerable.Range(0, steps.Length), t => clipped[t].Zip(other[t], (a, b) => Math.Abs(a - b)).Max() > 1e-3);
        }
    }

    [Fact]
    public void Old_weights_and_biases_names_are_accepted()
    {
        var rng = new Random(44);
        var cells = new[]
        {
            Cell(rng, "RNN/MultiRNNCell/cell_0/basic_lstm_cell", 2, 3, kernel: "weights", bias: "biases"),
            Cell(rng, "RNN/MultiRNNCell/cell_1/basic_lstm_cell", 3, 3, kernel: "weights", bias: "biases"),
        };
        var fcWeights = Random(rng, "fully_connected/weights", 1, 3, 1);
        var fcBiases = Random(rng, "fully_connected/biases", 1, 1);

        var model = Load(Flatten(cells).Append(fcWeights).Append(fcBiases), "npz", new ModelLoadOptions { HeadActivation = HeadActivation.Sigmoid });

        var reference = new Tf1ReferenceLstm(cells, 1.0, head: (fcWeights, fcBiases), headActivation: HeadActivation.Sigmoid);
        AssertMatchesReference(model, reference.Run, seed: 304);
    }

    [Fact]
    public void Cells_outside_a_MultiRNNCell_cannot_be_ordered()
    {
        var rng = new Random(45);
        var tensors = Flatten([Cell(rng, "a/lstm_cell", 3, 4), Cell(rng, "b/lstm_cell", 4, 4)]);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "npz"));

        Assert.Contains("'a/lstm_cell'", e.Message);
        Assert.Contains("cell_0", e.Message);
    }

    [Fact]
    public void Partial_peepholes_are_rejected()
    {
        var rng = new Random(46);
        var cell = Cell(rng, "rnn/lstm_cell", 3, 4, peepholes: true);
        var tensors = Flatten([cell]).Where(t => !t.Name.EndsWith("w_o_diag")).ToList();

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "npz"));

        Assert.Contains("w_o_diag", e.Message);
        Assert.Contains("'rnn/lstm_cell'", e.Message);
    }

    [Fact]
    public void Kernel_narrower_than_projection_is_rejected()
    {
        var rng = new Random(47);
        var cell = Cell(rng, "rnn/lstm_cell", 3, 4, proj: 2);
        var tensors = Flatten([cell]).Where(t => !t.Name.Contains("projection")).Append(Random(rng, "rnn/lstm_cell/projection/kernel", 1, 4, 5));

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "npz"));

        Assert.Contains("'rnn/lstm_cell/kernel' has shape [5, 16]", e.Message);
    }

    [Fact]
    public void Projection_clip_without_projection_is_rejected()
    {
        var tensors = Flatten([Cell(new Random(48), "rnn/lstm_cell", 3, 4)]);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "npz", new ModelLoadOptions { ProjectionClip = 1 }));

        Assert.Contains("projection clip", e.Message);
    }

    [Fact]
    public void Bidirectional_RNN_is_rejected()
    {
        var rng = new Random(49);
        var tensors = Flatten([Cell(rng, "bidirectional_rnn/fw/lstm_cell", 3, 4), Cell(rng, "bidirectional_rnn/bw/lstm_cell", 3, 4)]);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "npz"));

        Assert.Contains("bidirectional_rnn/bw/lstm_cell/kernel", e.Message);
        Assert.Contains("bidirectional", e.Message);
    }

    /// <summary>
    /// TF1 semantics through the layout converters against an independent runtime: TF1 variables (i, j, f, o
    /// kernel, forget_bias not stored, peepholes) → internal model → our ONNX writer → ONNX Runtime's LSTM,
    /// compared with the TF1 equations evaluated on the raw variables.
    /// </summary>
    [Theory]
    [InlineData(1.0f, false)]
    [InlineData(1.0f, true)]
    [InlineData(0.25f, true)]
    public void TF1_to_internal_to_ONNX_Runtime_matches_TF1_equations(float forgetBias, bool peepholes)
    {
        var rng = new Random(peepholes ? 61 : 62);
        var cells = new[]
        {
            Cell(rng, "rnn/multi_rnn_cell/cell_0/lstm_cell", 6, 4, peepholes),
            Cell(rng, "rnn/multi_rnn_cell/cell_1/lstm_cell", 4, 5, peepholes),
        };
        var model = Load(Flatten(cells), "npz", new ModelLoadOptions { ForgetBias = forgetBias });
        var steps = Enumerable.Range(0, 12).Select(_ => Enumerable.Range(0, 6).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray()).ToArray();

        var onnxRuntime = LstmStream.Tests.Support.OnnxRuntimeSequenceRunner.Run(model, steps);
        var tf1 = new Tf1ReferenceLstm(cells, forgetBias).Run(steps);

        for (var t = 0; t < steps.Length; t++)
        for (var u = 0; u < 5; u++)
        {
            Assert.True(Math.Abs(onnxRuntime[t][u] - tf1[t][u]) <= 2e-5 + 1e-4 * Math.Abs(tf1[t][u]),
                $"step {t} unit {u}: ONNX Runtime {onnxRuntime[t][u]}, TF1 equations {tf1[t][u]}");
        }
    }
}
