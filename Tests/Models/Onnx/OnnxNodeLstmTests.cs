using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using LstmStream.Pipeline.Models.Onnx.Proto;
using LstmStream.Pipeline.Numerics;
using Xunit.Abstractions;

namespace LstmStream.Tests.Models.Onnx;

/// <summary>
/// The ONNX backend node tests for LSTM (../shared/peer-tests/onnx-node-lstm): W, R, B, P are graph
/// inputs there, so each test builds the layer from the node's attributes and the given tensors, runs it
/// and compares Y and Y_h with the stored outputs, including layout 1, which ONNX Runtime refuses.
/// </summary>
public sealed class OnnxNodeLstmTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases() =>
        ["test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_with_peepholes", "test_lstm_batchwise"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_node_test_outputs(string name)
    {
        var dir = Path.Combine(LstmStream.Tests.Support.SharedData.OnnxNodeTests, name);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "model.onnx")));
        var graph = model.Graph;
        var node = Assert.Single(graph.Node);
        Assert.Equal("LSTM", node.OpType);

        var feeds = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        for (var i = 0; i < graph.Input.Count; i++)
            feeds[graph.Input[i].Name] = ReadTensor(Path.Combine(dir, "test_data_set_0", $"input_{i}.pb"));

        var (layer, layout) = OnnxModelImporter.BuildLayer(node, feeds);
        var x = Decode(feeds[node.Input[0]]);
        Assert.Equal(3, x.Dims.Length);
        int seq = (int)(layout == 0 ? x.Dims[0] : x.Dims[1]), batch = (int)(layout == 0 ? x.Dims[1] : x.Dims[0]), inputs = (int)x.Dims[2];
        Assert.Equal(layer.InputSize, inputs);

        // StackedLstm takes [batch × time × input]; layout 0 stores [time × batch × input].
        var xs = x.RequireFloats(name);
        var batchMajor = new float[batch * seq * inputs];
        for (var b = 0; b < batch; b++)
        for (var t = 0; t < seq; t++)
            xs.AsSpan(((layout == 0 ? t * batch + b : b * seq + t)) * inputs, inputs).CopyTo(batchMajor.AsSpan((b * seq + t) * inputs, inputs));

        int[] lengths = [];
        if (node.Input.Count > 4 && node.Input[4].Length > 0)
            lengths = Decode(feeds[node.Input[4]]).RequireIntegers(name).Select(v => (int)v).ToArray();

        var run = new StackedLstm(new LstmModel([layer]), new ManagedMatMul()).Run(batchMajor, batch, seq, lengths);
        int hidden = layer.CellSize;
        var tolerance = new Tolerance(1e-6, 1e-5);
        var compared = new List<string>();
        for (var o = 0; o < graph.Output.Count; o++)
        {
            var expected = Decode(ReadTensor(Path.Combine(dir, "test_data_set_0", $"output_{o}.pb")));
            var values = expected.RequireFloats(name);
            int which = node.Output.IndexOf(graph.Output[o].Name);
            compared.Add(which == 0 ? "Y" : which == 1 ? "Y_h" : "Y_c");
            if (which == 0)
            {
                long[] shape = layout == 0 ? [seq, 1, batch, hidden] : [batch, seq, 1, hidden];
                Assert.Equal(shape, expected.Dims);
                for (var b = 0; b < batch; b++)
                for (var t = 0; t < seq; t++)
                for (var u = 0; u < hidden; u++)
                {
                    int at = layout == 0 ? (t * batch + b) * hidden + u : (b * seq + t) * hidden + u;
                    var (bb, tt, uu) = (b, t, u);
                    tolerance.Check(run.Outputs[(b * seq + t) * hidden + u], values[at], () => $"{name} Y[t={tt}, b={bb}, {uu}]");
                }
            }
            else if (which == 1)
            {
                long[] shape = layout == 0 ? [1, batch, hidden] : [batch, 1, hidden];
                Assert.Equal(shape, expected.Dims);
                for (var i = 0; i < batch * hidden; i++)
                {
                    var ii = i;
                    tolerance.Check(run.FinalState.H[0][i], values[i], () => $"{name} Y_h[{ii}]");
                }
            }
            else
            {
                Assert.Fail($"{name}: unexpected graph output '{graph.Output[o].Name}'");
            }
        }

        output.WriteLine($"{name}: layout {layout}, compared {string.Join(", ", compared)}: {tolerance.Compared} values, max abs error {tolerance.MaxAbsError:E3}");
        tolerance.AssertPassed(name);
    }

    private static TensorProto ReadTensor(string path) => TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));

    private static OnnxTensor Decode(TensorProto t) => OnnxTensor.FromProto(t, $"tensor '{t.Name}'");
}
