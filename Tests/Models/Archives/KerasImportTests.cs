using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using static LstmStream.Tests.Models.Archives.ArchiveTestData;

namespace LstmStream.Tests.Models.Archives;

public class KerasImportTests
{
    private static (NamedTensor Kernel, NamedTensor Recurrent, NamedTensor? Bias) Layer(Random rng, string scope, int input, int units, bool bias = true, string suffix = ":0") =>
        (Random(rng, $"{scope}/kernel{suffix}", 0.6f, input, 4 * units),
         Random(rng, $"{scope}/recurrent_kernel{suffix}", 0.6f, units, 4 * units),
         bias ? Random(rng, $"{scope}/bias{suffix}", 0.5f, 4 * units) : null);

    private static IEnumerable<NamedTensor> Flatten(IEnumerable<(NamedTensor Kernel, NamedTensor Recurrent, NamedTensor? Bias)> layers) =>
        layers.SelectMany(l => new[] { l.Kernel, l.Recurrent, l.Bias }.OfType<NamedTensor>());

    [Theory]
    [InlineData("safetensors")]
    [InlineData("npz")]
    public void Tf_Keras_stack_with_head_matches_Keras_equations(string format)
    {
        var rng = new Random(31);
        // Layers named lstm, lstm_2, lstm_10: ordered by number, not by text.
        var l0 = Layer(rng, "sequential/lstm/lstm_cell", 4, 5);
        var l1 = Layer(rng, "sequential/lstm_2/lstm_cell_2", 5, 3);
        var l2 = Layer(rng, "sequential/lstm_10/lstm_cell_10", 3, 6);
        var kernel = Random(rng, "sequential/dense/kernel:0", 0.8f, 6, 2);
        var bias = Random(rng, "sequential/dense/bias:0", 0.3f, 2);
        var tensors = Flatten([l2, l0, l1]).Append(kernel).Append(bias).ToList();
        var options = new ModelLoadOptions { HeadActivation = HeadActivation.Tanh };

        var model = Load(tensors, format, options);

        Assert.Equal([5, 3, 6], model.Layers.Select(l => l.CellSize));
        Assert.Equal(2, model.OutputSize);
        var reference = new KerasReferenceLstm([l0, l1, l2], (kernel, bias), HeadActivation.Tanh);
        AssertMatchesReference(model, reference.Run, seed: 201);
    }

    [Fact]
    public void Keras3_names_without_cell_scope_and_without_bias_match_Keras_equations()
    {
        var rng = new Random(32);
        var l0 = Layer(rng, "lstm", 3, 4, bias: false, suffix: "");
        var l1 = Layer(rng, "lstm_1", 4, 4, suffix: "");

        var model = Load(Flatten([l0, l1]), "npz");

        Assert.Null(model.Head);
        var reference = new KerasReferenceLstm([l0, l1]);
        AssertMatchesReference(model, reference.Run, seed: 202);
    }

    [Fact]
    public void CuDNN_double_bias_is_summed()
    {
        var rng = new Random(33);
        var (k, r, _) = Layer(rng, "cu_dnnlstm", 2, 3, bias: false);
        var doubled = Random(rng, "cu_dnnlstm/bias:0", 0.5f, 24);
        var summed = new NamedTensor("cu_dnnlstm/bias:0", [12], doubled.Values.Take(12).Zip(doubled.Values.Skip(12), (a, b) => a + b).ToArray());

        var fromDoubled = Load([k, r, doubled], "safetensors");
        var fromSummed = Load([k, r, summed], "safetensors");

        Assert.Equal(fromSummed.Layers[0].Bias, fromDoubled.Layers[0].Bias);
        AssertMatchesReference(fromDoubled, new KerasReferenceLstm([(k, r, summed)]).Run, seed: 203);
    }

    [Fact]
    public void Layers_with_the_same_number_cannot_be_ordered()
    {
        var rng = new Random(34);
        var tensors = Flatten([Layer(rng, "encoder", 3, 4), Layer(rng, "decoder", 4, 4)]);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("cannot order", e.Message);
        Assert.Contains("'encoder'", e.Message);
        Assert.Contains("'decoder'", e.Message);
    }

    [Fact]
    public void Wrong_recurrent_kernel_shape_is_named()
    {
        var rng = new Random(35);
        var (k, _, b) = Layer(rng, "lstm/lstm_cell", 3, 4);
        var r = Random(rng, "lstm/lstm_cell/recurrent_kernel:0", 1, 4, 12);

        var e = Assert.Throws<ModelFormatException>(() => Load([k, r, b!], "safetensors"));

        Assert.Contains("'lstm/lstm_cell/recurrent_kernel:0' has shape [4, 12], expected [4, 16]", e.Message);
    }

    [Fact]
    public void Optimizer_slots_are_reported_as_leftovers()
    {
        var rng = new Random(36);
        var tensors = Flatten([Layer(rng, "lstm/lstm_cell", 3, 4)]).Append(Random(rng, "Adam/iter", 1)).ToList();

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("'Adam/iter' []", e.Message);
    }

    [Fact]
    public void Bidirectional_wrapper_is_rejected()
    {
        var rng = new Random(37);
        var tensors = Flatten([Layer(rng, "bidirectional/forward_lstm/lstm_cell", 3, 4), Layer(rng, "bidirectional/backward_lstm/lstm_cell", 3, 4)]);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("bidirectional/backward_lstm/lstm_cell/recurrent_kernel:0", e.Message);
        Assert.Contains("Bidirectional", e.Message);
    }
}
