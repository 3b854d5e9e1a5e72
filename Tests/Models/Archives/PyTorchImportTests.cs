using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using static LstmStream.Tests.Models.Archives.ArchiveTestData;

namespace LstmStream.Tests.Models.Archives;

public class PyTorchImportTests
{
    /// <summary>A PyTorch nn.LSTM state dict: per layer (input, hidden, proj or 0), with or without biases.</summary>
    private static List<NamedTensor> StateDict(Random rng, string prefix, (int Input, int Hidden, int Proj)[] layers, bool biases = true)
    {
        var list = new List<NamedTensor>();
        for (var k = 0; k < layers.Length; k++)
        {
            var (input, hidden, proj) = layers[k];
            int output = proj > 0 ? proj : hidden;
            list.Add(Random(rng, $"{prefix}weight_ih_l{k}", 0.6f, 4 * hidden, input));
            list.Add(Random(rng, $"{prefix}weight_hh_l{k}", 0.6f, 4 * hidden, output));
            if (biases)
            {
                list.Add(Random(rng, $"{prefix}bias_ih_l{k}", 0.5f, 4 * hidden));
                list.Add(Random(rng, $"{prefix}bias_hh_l{k}", 0.5f, 4 * hidden));
            }

            if (proj > 0) list.Add(Random(rng, $"{prefix}weight_hr_l{k}", 0.7f, proj, hidden));
        }

        return list;
    }

    [Theory]
    [InlineData("safetensors")]
    [InlineData("npz")]
    [InlineData("npz-compressed")]
    public void Heterogeneous_stack_with_head_matches_PyTorch_equations(string format)
    {
        var rng = new Random(11);
        var tensors = StateDict(rng, "model.rnn.", [(5, 6, 0), (6, 4, 0), (4, 7, 0)]);
        tensors.Add(Random(rng, "model.out.weight", 0.8f, 3, 7));
        tensors.Add(Random(rng, "model.out.bias", 0.3f, 3));
        var options = new ModelLoadOptions { HeadActivation = HeadActivation.Sigmoid };

        var model = Load(tensors, format, options);

        Assert.Equal([6, 4, 7], model.Layers.Select(l => l.CellSize));
        Assert.Equal(5, model.InputSize);
        Assert.NotNull(model.Head);
        Assert.Equal(HeadActivation.Sigmoid, model.Head.Activation);
        Assert.Equal(3, model.OutputSize);
        var reference = new PyTorchReferenceLstm(tensors.ToDictionary(t => t.Name), "model.rnn.", 3, "model.out.", HeadActivation.Sigmoid);
        AssertMatchesReference(model, reference.Run, seed: 101);
    }

    [Fact]
    public void Proj_size_stack_matches_PyTorch_equations()
    {
        var rng = new Random(12);
        // nn.LSTM(input_size=3, hidden_size=6, num_layers=3, proj_size=4)
        var tensors = StateDict(rng, "lstm.", [(3, 6, 4), (4, 6, 4), (4, 6, 4)]);

        var model = Load(tensors, "safetensors");

        Assert.All(model.Layers, l => Assert.True(l.HasProjection));
        Assert.All(model.Layers, l => Assert.Equal(4, l.OutputSize));
        var reference = new PyTorchReferenceLstm(tensors.ToDictionary(t => t.Name), "lstm.", 3);
        AssertMatchesReference(model, reference.Run, seed: 102);
    }

    [Fact]
    public void Unprefixed_stack_without_biases_matches_PyTorch_equations()
    {
        var rng = new Random(13);
        var tensors = StateDict(rng, "", [(2, 5, 0), (5, 3, 2)], biases: false);

        var model = Load(tensors, "npz");

        Assert.All(model.Layers, l => Assert.All(l.Bias, b => Assert.Equal(0f, b)));
        var reference = new PyTorchReferenceLstm(tensors.ToDictionary(t => t.Name), "", 2);
        AssertMatchesReference(model, reference.Run, seed: 103);
    }

    [Fact]
    public void Both_biases_are_summed_into_the_internal_gate_order()
    {
        // hidden 1: gate rows i, f, g, o hold 1, 2, 3, 4 (bias_ih) and 10, 20, 30, 40 (bias_hh).
        var tensors = new List<NamedTensor>
        {
            new("weight_ih_l0", [4, 1], [0.1f, 0.2f, 0.3f, 0.4f]),
            new("weight_hh_l0", [4, 1], [0.5f, 0.6f, 0.7f, 0.8f]),
            new("bias_ih_l0", [4], [1, 2, 3, 4]),
            new("bias_hh_l0", [4], [10, 20, 30, 40]),
        };

        var layer = Load(tensors, "safetensors").Layers[0];

        Assert.Equal([11f, 33f, 22f, 44f], layer.Bias); // internal i, j(=g), f, o
        Assert.Equal([0.1f, 0.3f, 0.2f, 0.4f, 0.5f, 0.7f, 0.6f, 0.8f], layer.Kernel); // rows x, h
    }

    [Fact]
    public void Bidirectional_is_rejected()
    {
        var rng = new Random(14);
        var tensors = StateDict(rng, "lstm.", [(3, 4, 0)]);
        tensors.Add(Random(rng, "lstm.weight_ih_l0_reverse", 1, 16, 3));
        tensors.Add(Random(rng, "lstm.weight_hh_l0_reverse", 1, 16, 4));

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("lstm.weight_hh_l0_reverse", e.Message);
        Assert.Contains("bidirectional", e.Message);
    }

    [Fact]
    public void Inconsistent_recurrent_shape_names_tensor_and_expectation()
    {
        var rng = new Random(15);
        var tensors = StateDict(rng, "", [(3, 4, 0), (4, 5, 0)]);
        tensors[tensors.FindIndex(t => t.Name == "weight_hh_l1")] = Random(rng, "weight_hh_l1", 1, 20, 4);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "npz"));

        Assert.Contains("'weight_hh_l1'", e.Message);
        Assert.Contains("[20, 4]", e.Message);
        Assert.Contains("[20, 5]", e.Message);
    }

    [Fact]
    public void Layer_input_that_does_not_chain_is_rejected()
    {
        var rng = new Random(16);
        var tensors = StateDict(rng, "", [(3, 4, 0), (6, 5, 0)]);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("'weight_ih_l1'", e.Message);
        Assert.Contains("[20, 6]", e.Message);
        Assert.Contains("[20, 4]", e.Message);
    }

    [Fact]
    public void Missing_middle_layer_is_rejected()
    {
        var rng = new Random(17);
        var tensors = StateDict(rng, "", [(3, 4, 0), (4, 4, 0), (4, 4, 0)]).Where(t => !t.Name.EndsWith("_l1")).ToList();

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("'weight_ih_l1'", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Leftover_tensor_is_named_with_its_shape()
    {
        var rng = new Random(18);
        var tensors = StateDict(rng, "lstm.", [(3, 4, 0)]);
        tensors.Add(Random(rng, "embedding.weight", 1, 10, 3, 2));

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("'embedding.weight' [10, 3, 2]", e.Message);
    }

    [Fact]
    public void Two_dense_layers_are_ambiguous()
    {
        var rng = new Random(19);
        var tensors = StateDict(rng, "lstm.", [(3, 4, 0)]);
        tensors.Add(Random(rng, "fc1.weight", 1, 4, 4));
        tensors.Add(Random(rng, "fc2.weight", 1, 2, 4));

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("fc1.weight", e.Message);
        Assert.Contains("fc2.weight", e.Message);
        Assert.Contains("single dense head", e.Message);
    }

    [Fact]
    public void Head_with_wrong_input_width_is_rejected()
    {
        var rng = new Random(20);
        var tensors = StateDict(rng, "lstm.", [(3, 4, 0)]);
        tensors.Add(Random(rng, "head.weight", 1, 2, 5));

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("'head.weight' has shape [2, 5], expected [2, 4]", e.Message);
    }

    [Fact]
    public void Several_LSTM_modules_are_rejected()
    {
        var rng = new Random(21);
        var tensors = StateDict(rng, "enc.", [(3, 4, 0)]);
        tensors.AddRange(StateDict(rng, "dec.", [(4, 4, 0)]));

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors"));

        Assert.Contains("'dec.'", e.Message);
        Assert.Contains("'enc.'", e.Message);
    }

    [Fact]
    public void TensorFlow_only_options_are_rejected()
    {
        var tensors = StateDict(new Random(22), "", [(3, 4, 0)]);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors", new ModelLoadOptions { CellClip = 3 }));

        Assert.Contains("TensorFlow 1", e.Message);
    }

    [Fact]
    public void Head_activation_without_head_is_rejected()
    {
        var tensors = StateDict(new Random(23), "", [(3, 4, 0)]);

        var e = Assert.Throws<ModelFormatException>(() => Load(tensors, "safetensors", new ModelLoadOptions { HeadActivation = HeadActivation.Tanh }));

        Assert.Contains("no dense layer", e.Message);
    }
}
