using Google.Protobuf;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using LstmStream.Pipeline.Models.Onnx.Proto;
using static LstmStream.Tests.Models.Onnx.OnnxTestGraph;

namespace LstmStream.Tests.Models.Onnx;

/// <summary>
/// What the importer refuses, and that its message names the node, the attribute or input, and the value.
/// Each case starts from one valid single-LSTM graph and changes one thing.
/// </summary>
public sealed class OnnxImportErrorTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Input = 3, Hidden = 2;

    /// <summary>X → LSTM 'lstm0' → Squeeze → Y, opset 14; <paramref name="lstmAttributes"/> and <paramref name="extraInputs"/> are added to the node.</summary>
    private static OnnxTestGraph ValidGraph(int opset = 14, string[]? lstmInputs = null, params AttributeProto[] lstmAttributes)
    {
        var rng = new Random(5);
        var w = OnnxWeights.Random(rng, Input, Hidden, peepholes: true);
        var g = new OnnxTestGraph(opset).Input("X", "seq", "batch", Input).Output("Y", "seq", "batch", Hidden);
        g.Floats("W", [1, 4 * Hidden, Input], w.W).Floats("R", [1, 4 * Hidden, Hidden], w.R).Floats("B", [1, 8 * Hidden], w.B).Floats("P", [1, 3 * Hidden], w.P!);
        g.Ints("axes", 1);
        g.Node("LSTM", "lstm0", lstmInputs ?? ["X", "W", "R", "B"], ["y"], [Attr("hidden_size", (long)Hidden), .. lstmAttributes]);
        if (opset >= 13) g.Node("Squeeze", "squeeze0", ["y", "axes"], ["Y"]);
        else g.Node("Squeeze", "squeeze0", ["y"], ["Y"], Attr("axes", new long[] { 1 }));
        return g;
    }

    private ModelFormatException Refused(OnnxTestGraph g) => Refused(g.Model());

    private ModelFormatException Refused(ModelProto model) =>
        Assert.Throws<ModelFormatException>(() => OnnxModelImporter.FromBytes(model.ToByteArray(), "test.onnx"));

    private void AssertMentions(Exception e, params string[] parts)
    {
        output.WriteLine(e.Message);
        foreach (var p in parts) Assert.Contains(p, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_valid_graph_imports()
    {
        var model = OnnxModelImporter.FromBytes(ValidGraph().Bytes(), "test.onnx");
        Assert.Equal(Hidden, model.Layers.Single().CellSize);
        Assert.Equal("test.onnx (onnx)", model.Source);
    }

    [Theory]
    [InlineData("bidirectional")]
    [InlineData("reverse")]
    public void Non_forward_direction(string direction)
    {
        var e = Refused(ValidGraph(lstmAttributes: Attr("direction", direction)));
        AssertMentions(e, "test.onnx", "'lstm0'", "LSTM", "direction", $"'{direction}'");
    }

    [Fact]
    public void Two_directions_in_W()
    {
        var g = ValidGraph();
        var w = g.Graph.Initializer.Single(t => t.Name == "W");
        w.Dims[0] = 2;
        w.RawData = ByteString.CopyFrom(new byte[2 * 4 * Hidden * Input * 4]);
        AssertMentions(Refused(g), "'lstm0'", "num_directions 2");
    }

    [Fact]
    public void Non_default_activations()
    {
        var e = Refused(ValidGraph(lstmAttributes: Attr("activations", new[] { "Sigmoid", "Tanh", "Relu" })));
        AssertMentions(e, "'lstm0'", "activations", "'Relu'");
    }

    [Fact]
    public void Activation_parameters()
    {
        var alpha = new AttributeProto { Name = "activation_alpha", Type = AttributeProto.Types.AttributeType.Floats };
        alpha.Floats.Add(0.5f);
        AssertMentions(Refused(ValidGraph(lstmAttributes: alpha)), "'lstm0'", "activation_alpha", "0.5");
    }

    [Fact]
    public void Unknown_attribute() =>
        AssertMentions(Refused(ValidGraph(lstmAttributes: Attr("projection_size", 4L))), "'lstm0'", "projection_size", "4");

    [Theory]
    [InlineData("clip", -1f, "-1")]
    [InlineData("clip", 0f, "0")]
    public void Invalid_clip(string name, float value, string text) =>
        AssertMentions(Refused(ValidGraph(lstmAttributes: Attr(name, value))), "'lstm0'", name, text);

    [Fact]
    public void Input_forget_out_of_range() =>
        AssertMentions(Refused(ValidGraph(lstmAttributes: Attr("input_forget", 2L))), "'lstm0'", "input_forget", "2");

    [Fact]
    public void Layout_out_of_range() =>
        AssertMentions(Refused(ValidGraph(lstmAttributes: Attr("layout", 2L))), "'lstm0'", "layout", "2");

    [Fact]
    public void Hidden_size_disagrees_with_W()
    {
        var g = ValidGraph();
        g.Graph.Node[0].Attribute[0].I = 5;
        AssertMentions(Refused(g), "'lstm0'", "hidden_size", "5", "hidden_size 2");
    }

    [Fact]
    public void Non_zero_initial_state()
    {
        var g = ValidGraph(lstmInputs: ["X", "W", "R", "B", "", "h_init"]);
        g.Floats("h_init", [1, 1, Hidden], [0f, 0.25f]);
        AssertMentions(Refused(g), "'lstm0'", "initial_h", "'h_init'", "zero");
    }

    [Fact]
    public void Zero_initial_state_is_accepted()
    {
        var g = ValidGraph(lstmInputs: ["X", "W", "R", "B", "", "h_init", "c_init", "P"]);
        g.Floats("h_init", [1, 1, Hidden], [0f, 0f]).Floats("c_init", [1, 1, Hidden], [0f, -0f]);
        Assert.True(OnnxModelImporter.FromBytes(g.Bytes(), "t").Layers[0].HasPeepholes);
    }

    [Fact]
    public void Weights_computed_at_run_time()
    {
        var g = ValidGraph(lstmInputs: ["X", "W_live", "R", "B"]);
        g.Input("W_live", 1, 4 * Hidden, Input);
        AssertMentions(Refused(g), "'lstm0'", "W", "'W_live'", "not a constant");
    }

    [Fact]
    public void Unknown_operator_on_the_chain()
    {
        var g = ValidGraph();
        g.Graph.Node[1].Output[0] = "squeezed";
        g.Floats("scale", [1], [2f]);
        g.Node("Mul", "scale_output", ["squeezed", "scale"], ["Y"]);
        AssertMentions(Refused(g), "'scale_output'", "Mul", "not supported");
    }

    [Fact]
    public void Operator_between_layers()
    {
        var g = ValidGraph();
        var rng = new Random(9);
        var w = OnnxWeights.Random(rng, Hidden, Hidden, peepholes: false);
        g.Graph.Node[1].Output[0] = "s0";
        g.Floats("W1", [1, 4 * Hidden, Hidden], w.W).Floats("R1", [1, 4 * Hidden, Hidden], w.R).Floats("M", [Hidden, Hidden], new float[Hidden * Hidden]);
        g.Node("MatMul", "mix", ["s0", "M"], ["m"]);
        g.Node("LSTM", "lstm1", ["m", "W1", "R1"], ["y1"], Attr("hidden_size", (long)Hidden));
        g.Node("Squeeze", "squeeze1", ["y1", "axes"], ["Y"]);
        AssertMentions(Refused(g), "'mix'", "MatMul", "between LSTM layers");
    }

    [Fact]
    public void Opset_too_old()
    {
        var m = ValidGraph(opset: 11).Model();
        m.OpsetImport[0].Version = 6;
        AssertMentions(Refused(m), "opset 6", "7");
    }

    [Fact]
    public void External_data()
    {
        var g = ValidGraph();
        var r = g.Graph.Initializer.Single(t => t.Name == "R");
        r.ClearRawData();
        r.DataLocation = TensorProto.Types.DataLocation.External;
        r.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        AssertMentions(Refused(g), "'R'", "external", "weights.bin");
    }

    [Fact]
    public void Cell_state_output_on_the_chain()
    {
        var g = ValidGraph();
        g.Graph.Node[0].Output.Add(["", "yc"]);
        g.Graph.Node[1].Input[0] = "yc";
        g.Graph.Node[1].Input[1] = "axes0";
        g.Ints("axes0", 0);
        AssertMentions(Refused(g), "'lstm0'", "Y_c", "'yc'");
    }

    [Fact]
    public void LSTM_off_the_chain()
    {
        var g = ValidGraph();
        g.Node("LSTM", "stray", ["X", "W", "R", "B"], ["y_stray"], Attr("hidden_size", (long)Hidden));
        AssertMentions(Refused(g), "'stray'", "not on the chain");
    }

    [Fact]
    public void Squeeze_of_the_feature_axis()
    {
        var g = ValidGraph();
        g.Graph.Initializer.Single(t => t.Name == "axes").Int64Data[0] = 3;
        AssertMentions(Refused(g), "'squeeze0'", "axis 3");
    }

    [Fact]
    public void Reshape_that_mixes_features_with_batch()
    {
        var g = ValidGraph();
        g.Graph.Node[1].Output[0] = "s";
        g.Ints("flat", 0, -1);
        g.Node("Reshape", "merge", ["s", "flat"], ["Y"]);
        AssertMentions(Refused(g), "'merge'", "mixes");
    }

    [Fact]
    public void Softmax_over_the_wrong_axis()
    {
        var g = ValidGraph();
        g.Graph.Node[1].Output[0] = "s";
        g.Floats("hw", [Hidden, 2], [1f, 2f, 3f, 4f]);
        g.Node("MatMul", "head", ["s", "hw"], ["z"]);
        g.Node("Softmax", "probs", ["z"], ["Y"], Attr("axis", 0L));
        AssertMentions(Refused(g), "'probs'", "axis", "0");
    }

    [Fact]
    public void Gemm_with_transposed_data()
    {
        var g = ValidGraph();
        g.Graph.Node[1].Output[0] = "s";
        g.Ints("rows", -1, Hidden);
        g.Floats("hw", [Hidden, 2], [1f, 2f, 3f, 4f]);
        g.Node("Reshape", "flatten", ["s", "rows"], ["r"]);
        g.Node("Gemm", "head", ["r", "hw"], ["Y"], Attr("transA", 1L));
        AssertMentions(Refused(g), "'head'", "transA", "1");
    }

    [Fact]
    public void Activation_without_dense()
    {
        var g = ValidGraph();
        g.Graph.Node[1].Output[0] = "s";
        g.Node("Tanh", "squash", ["s"], ["Y"]);
        AssertMentions(Refused(g), "'squash'", "without a dense layer");
    }

    [Fact]
    public void Foreign_domain()
    {
        var g = ValidGraph();
        g.Graph.Node[0].Domain = "com.microsoft";
        AssertMentions(Refused(g), "'lstm0'", "com.microsoft");
    }

    [Fact]
    public void Not_protobuf()
    {
        var e = Assert.Throws<ModelFormatException>(() => OnnxModelImporter.FromBytes("not a model"u8, "broken.onnx"));
        AssertMentions(e, "broken.onnx", "not a valid ONNX model");
    }

    [Fact]
    public void Missing_file()
    {
        var e = Assert.Throws<ModelFormatException>(() => OnnxModelImporter.Load("/tmp/onnx-no-such-model.onnx"));
        AssertMentions(e, "/tmp/onnx-no-such-model.onnx");
    }

    [Fact]
    public void Writer_refuses_projection()
    {
        var layer = new LstmLayer(2, 3, new float[(2 + 2) * 12], new float[12], projection: new float[3 * 2], projectionSize: 2);
        var e = Assert.Throws<ModelFormatException>(() => OnnxModelWriter.ToBytes(new LstmModel([layer])));
        AssertMentions(e, "layer 0", "projection");
    }

    [Fact]
    public void Writer_refuses_cell_clip()
    {
        var ok = new LstmLayer(2, 3, new float[(2 + 3) * 12], new float[12]);
        var clipped = new LstmLayer(3, 3, new float[(3 + 3) * 12], new float[12], cellClip: 5f);
        var e = Assert.Throws<ModelFormatException>(() => OnnxModelWriter.ToBytes(new LstmModel([ok, clipped])));
        AssertMentions(e, "layer 1", "cell_clip", "5");
    }
}
