using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using LstmStream.Pipeline.Numerics;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static LstmStream.Tests.Models.Onnx.OnnxTestGraph;

namespace LstmStream.Tests.Models.Onnx;

/// <summary>
/// Graphs laid out the way PyTorch and tf2onnx export LSTMs (Transpose for batch-first input, Squeeze
/// with axes as attribute or input, Reshape, Constant and ConstantOfShape nodes, float_data weights,
/// Gemm heads with transB / alpha / beta, Softmax, Y_h feeding the head, clip, input_forget,
/// peepholes): ONNX Runtime runs each graph, the importer's model must give the same outputs.
/// </summary>
public sealed class ExporterStyleGraphTests(ITestOutputHelper output)
{
    [Fact]
    public void PyTorch_style_batch_first_stack_with_Gemm_Softmax_head()
    {
        var rng = new Random(101);
        const int batch = 3, seq = 6, input = 5, h0 = 7, h1 = 6, k = 4;
        var g = new OnnxTestGraph(opset: 11).Input("X", batch, "seq", input).Output("Y", batch, "seq", k);
        var l0 = OnnxWeights.Random(rng, input, h0, peepholes: false);
        var l1 = OnnxWeights.Random(rng, h0, h1, peepholes: false);
        g.Node("Constant", "W0_const", [], ["W0"], Attr("value", FloatTensor("W0", [1, 4 * h0, input], l0.W)));
        g.Floats("R0", [1, 4 * h0, h0], l0.R).Floats("B0", [1, 8 * h0], l0.B);
        g.Floats("W1", [1, 4 * h1, h0], l1.W).Floats("R1", [1, 4 * h1, h1], l1.R, rawData: false).Floats("B1", [1, 8 * h1], l1.B);
        g.Ints("h0_shape", 1, batch, h0).Floats("c0_zero", [1, batch, h0], new float[batch * h0]);
        g.Node("ConstantOfShape", "zeros_h0", ["h0_shape"], ["h0_zero"]);
        g.Node("Transpose", "to_time_major", ["X"], ["xt"], Attr("perm", new long[] { 1, 0, 2 }));
        g.Node("LSTM", "lstm_l0", ["xt", "W0", "R0", "B0", "", "h0_zero", "c0_zero"], ["y0"], Attr("hidden_size", (long)h0));
        g.Node("Squeeze", "squeeze_l0", ["y0"], ["s0"], Attr("axes", new long[] { 1 }));
        g.Node("LSTM", "lstm_l1", ["s0", "W1", "R1", "B1"], ["y1"], Attr("hidden_size", (long)h1));
        g.Node("Squeeze", "squeeze_l1", ["y1"], ["s1"], Attr("axes", new long[] { 1 }));
        g.Node("Transpose", "to_batch_major", ["s1"], ["bt"], Attr("perm", new long[] { 1, 0, 2 }));
        g.Ints("rows_shape", -1, h1).Ints("out_shape", batch, -1, k);
        g.Node("Reshape", "flatten_rows", ["bt", "rows_shape"], ["rows"]);
        g.Floats("fc_W", [k, h1], RandomLstmModels.Uniform(rng, k * h1, 1f)).Floats("fc_b", [k], RandomLstmModels.Uniform(rng, k, 1f));
        g.Node("Gemm", "fc", ["rows", "fc_W", "fc_b"], ["logits"], Attr("transB", 1L), Attr("alpha", 0.7f), Attr("beta", 1.3f));
        g.Node("Softmax", "softmax", ["logits"], ["probs"], Attr("axis", 1L));
        g.Node("Reshape", "unflatten_rows", ["probs", "out_shape"], ["Y"]);

        var model = OnnxModelImporter.FromBytes(g.Bytes(), "pytorch-style");
        Assert.Equal([h0, h1], model.Layers.Select(l => l.CellSize));
        Assert.Equal(HeadActivation.Softmax, model.Head!.Activation);

        var x = RandomLstmModels.Uniform(rng, batch * seq * input, 1.5f); // [batch, seq, input] = the graph's layout
        var ort = RunOnnxRuntime(g.Bytes(), ("X", x, [batch, seq, input]));
        var ours = new StackedLstm(model, new ManagedMatMul()).Run(x, batch, seq);
        Compare(ours.Outputs, ort, "pytorch-style Y");
    }

    [Fact]
    public void Tf2onnx_style_last_state_head_with_peepholes_clip_and_input_forget()
    {
        var rng = new Random(202);
        const int batch = 4, seq = 7, input = 4, h0 = 5, h1 = 3, k = 2;
        var g = new OnnxTestGraph(opset: 13).Input("X", "batch", "seq", input).Output("Y", "batch", k);
        var l0 = OnnxWeights.Random(rng, input, h0, peepholes: true);
        var l1 = OnnxWeights.Random(rng, h0, h1, peepholes: false);
        g.Floats("W0", [1, 4 * h0, input], l0.W).Floats("R0", [1, 4 * h0, h0], l0.R).Floats("B0", [1, 8 * h0], l0.B).Floats("P0", [1, 3 * h0], l0.P!);
        g.Floats("W1", [1, 4 * h1, h0], l1.W).Floats("R1", [1, 4 * h1, h1], l1.R).Floats("B1", [1, 8 * h1], l1.B);
        g.Ints("merge_dir", 0, -1, h0).Ints("axis0", 0);
        g.Node("Transpose", "transpose_in", ["X"], ["xt"], Attr("perm", new long[] { 1, 0, 2 }));
        g.Node("LSTM", "lstm_a", ["xt", "W0", "R0", "B0", "", "", "", "P0"], ["ya"],
            Attr("hidden_size", (long)h0), Attr("clip", 1.2f), Attr("input_forget", 1L), Attr("direction", "forward"));
        g.Node("Reshape", "drop_direction", ["ya", "merge_dir"], ["ra"]);
        g.Node("LSTM", "lstm_b", ["ra", "W1", "R1", "B1"], ["", "hb"],
            Attr("hidden_size", (long)h1), Attr("activations", new[] { "Sigmoid", "Tanh", "Tanh" }));
        g.Node("Squeeze", "squeeze_h", ["hb", "axis0"], ["last"]);
        g.Floats("dense_W", [h1, k], RandomLstmModels.Uniform(rng, h1 * k, 1f)).Floats("dense_b", [k], RandomLstmModels.Uniform(rng, k, 1f));
        g.Node("MatMul", "dense", ["last", "dense_W"], ["mm"]);
        g.Node("Add", "dense_bias", ["dense_b", "mm"], ["logit"]);
        g.Node("Sigmoid", "sigmoid", ["logit"], ["Y"]);

        var model = OnnxModelImporter.FromBytes(g.Bytes(), "tf2onnx-style");
        Assert.True(model.Layers[0].InputForget);
        Assert.Equal(1.2f, model.Layers[0].GateClip);
        Assert.True(model.Layers[0].HasPeepholes);

        var x = RandomLstmModels.Uniform(rng, batch * seq * input, 2f);
        var ort = RunOnnxRuntime(g.Bytes(), ("X", x, [batch, seq, input]));
        var ours = new StackedLstm(model, new ManagedMatMul()).Run(x, batch, seq);
        var lastStep = new float[batch * k];
        for (var b = 0; b < batch; b++) ours.Outputs.AsSpan((b * seq + seq - 1) * k, k).CopyTo(lastStep.AsSpan(b * k, k));
        Compare(lastStep, ort, "tf2onnx-style Y (from Y_h)");
    }

    [Fact]
    public void PyTorch_style_state_inputs_sliced_per_layer()
    {
        var rng = new Random(505);
        const int batch = 2, seq = 5, input = 3, hidden = 4;
        var g = new OnnxTestGraph(opset: 13).Input("X", "seq", "batch", input).Input("h0", 2, "batch", hidden).Input("c0", 2, "batch", hidden)
            .Output("Y", "seq", "batch", hidden);
        var l0 = OnnxWeights.Random(rng, input, hidden, peepholes: false);
        var l1 = OnnxWeights.Random(rng, hidden, hidden, peepholes: false);
        g.Floats("W0", [1, 4 * hidden, input], l0.W).Floats("R0", [1, 4 * hidden, hidden], l0.R).Floats("B0", [1, 8 * hidden], l0.B);
        g.Floats("W1", [1, 4 * hidden, hidden], l1.W).Floats("R1", [1, 4 * hidden, hidden], l1.R).Floats("B1", [1, 8 * hidden], l1.B);
        g.Ints("zero", 0).Ints("one", 1).Ints("two", 2);
        foreach (var (k, from, to) in new[] { (0, "zero", "one"), (1, "one", "two") })
        {
            g.Node("Slice", $"h0_slice_{k}", ["h0", from, to, "zero"], [$"h0_{k}"]);
            g.Node("Slice", $"c0_slice_{k}", ["c0", from, to, "zero"], [$"c0_{k}"]);
        }

        g.Node("LSTM", "lstm_0", ["X", "W0", "R0", "B0", "", "h0_0", "c0_0"], ["y0", "hn0", "cn0"], Attr("hidden_size", (long)hidden));
        g.Node("Squeeze", "sq_0", ["y0", "one"], ["s0"]);
        g.Node("LSTM", "lstm_1", ["s0", "W1", "R1", "B1", "", "h0_1", "c0_1"], ["y1", "hn1", "cn1"], Attr("hidden_size", (long)hidden));
        g.Node("Squeeze", "sq_1", ["y1", "one"], ["Y"]);

        var model = OnnxModelImporter.FromBytes(g.Bytes(), "pytorch-state");
        Assert.Equal(2, model.Layers.Count);

        // The engine starts each sequence from zero state, so ONNX Runtime gets zero h0 / c0.
        var timeMajorX = RandomLstmModels.Uniform(rng, seq * batch * input, 1.5f);
        using var session = new InferenceSession(g.Bytes());
        using var xv = OrtValue.CreateTensorValueFromMemory(timeMajorX, [seq, batch, input]);
        using var hv = OrtValue.CreateTensorValueFromMemory(new float[2 * batch * hidden], [2, batch, hidden]);
        using var cv = OrtValue.CreateTensorValueFromMemory(new float[2 * batch * hidden], [2, batch, hidden]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, new Dictionary<string, OrtValue> { ["X"] = xv, ["h0"] = hv, ["c0"] = cv }, ["Y"]);
        var ort = results[0].GetTensorDataAsSpan<float>().ToArray();

        var x = SwapSeqAndBatch(timeMajorX, seq, batch, input);
        var ours = new StackedLstm(model, new ManagedMatMul()).Run(x, batch, seq).Outputs;
        var oursTimeMajor = SwapSeqAndBatch(ours, batch, seq, hidden);
        Compare(oursTimeMajor, ort, "pytorch state inputs Y");
    }

    [Fact]
    public void Unfolded_weights_are_folded_like_PyTorch_without_constant_folding()
    {
        // PyTorch's own parameters (gate order i, f, g, o; weight_ih [4H × in]) reordered to ONNX's i, o, f, c
        // in the graph itself: Slice per gate, Concat, Unsqueeze; the head weight is a Transpose of [k × H].
        var rng = new Random(606);
        const int batch = 2, seq = 4, input = 3, hidden = 5, k = 2;
        var g = new OnnxTestGraph(opset: 13).Input("X", "seq", "batch", input).Output("Y", "seq", "batch", k);
        g.Floats("weight_ih", [4 * hidden, input], RandomLstmModels.Uniform(rng, 4 * hidden * input, 0.8f));
        g.Floats("weight_hh", [4 * hidden, hidden], RandomLstmModels.Uniform(rng, 4 * hidden * hidden, 0.8f));
        g.Floats("bias", [8 * hidden], RandomLstmModels.Uniform(rng, 8 * hidden, 0.5f));
        g.Floats("fc_weight", [k, hidden], RandomLstmModels.Uniform(rng, k * hidden, 1f)).Floats("fc_bias", [k], RandomLstmModels.Uniform(rng, k, 1f));
        g.Ints("axis0", 0);
        for (var gate = 0; gate <= 4; gate++) g.Ints($"at{gate}", gate * hidden);
        foreach (var p in new[] { "weight_ih", "weight_hh" })
        {
            // PyTorch blocks i, f, g, o → ONNX i, o, f, c = blocks 0, 3, 1, 2.
            var pieces = new[] { 0, 3, 1, 2 }.Select(b => $"{p}_{b}").ToArray();
            foreach (var b in new[] { 0, 1, 2, 3 }) g.Node("Slice", $"slice_{p}_{b}", [p, $"at{b}", $"at{b + 1}", "axis0"], [$"{p}_{b}"]);
            g.Node("Concat", $"concat_{p}", pieces, [$"{p}_iofc"], Attr("axis", 0L));
            g.Node("Unsqueeze", $"unsqueeze_{p}", [$"{p}_iofc", "axis0"], [$"{p}_onnx"]);
        }

        g.Node("Unsqueeze", "unsqueeze_bias", ["bias", "axis0"], ["bias_onnx"]);
        g.Node("Transpose", "fc_weight_t", ["fc_weight"], ["fc_w_t"]);
        g.Node("LSTM", "lstm", ["X", "weight_ih_onnx", "weight_hh_onnx", "bias_onnx"], ["y"], Attr("hidden_size", (long)hidden));
        g.Ints("one", 1);
        g.Node("Squeeze", "squeeze", ["y", "one"], ["s"]);
        g.Node("MatMul", "fc", ["s", "fc_w_t"], ["z"]);
        g.Node("Add", "fc_add", ["z", "fc_bias"], ["Y"]);

        var model = OnnxModelImporter.FromBytes(g.Bytes(), "pytorch-unfolded");
        Assert.Equal(hidden, model.Layers.Single().CellSize);
        Assert.Equal(k, model.Head!.OutputSize);

        var timeMajorX = RandomLstmModels.Uniform(rng, seq * batch * input, 1.5f);
        var ort = RunOnnxRuntime(g.Bytes(), ("X", timeMajorX, [seq, batch, input]));
        var x = SwapSeqAndBatch(timeMajorX, seq, batch, input);
        var ours = new StackedLstm(model, new ManagedMatMul()).Run(x, batch, seq).Outputs;
        var oursTimeMajor = SwapSeqAndBatch(ours, batch, seq, k);
        Compare(oursTimeMajor, ort, "pytorch unfolded weights Y");
    }

    [Fact]
    public void Opset_7_graph_with_Flatten_Gemm_and_default_Softmax_axis()
    {
        var rng = new Random(404);
        const int batch = 2, seq = 4, input = 6, hidden = 5, k = 3;
        var g = new OnnxTestGraph(opset: 7).Input("X", seq, batch, input).Output("Y", seq * batch, k);
        var l0 = OnnxWeights.Random(rng, input, hidden, peepholes: true);
        g.Floats("W", [1, 4 * hidden, input], l0.W).Floats("R", [1, 4 * hidden, hidden], l0.R).Floats("B", [1, 8 * hidden], l0.B).Floats("P", [1, 3 * hidden], l0.P!);
        g.Floats("fc_W", [hidden, k], RandomLstmModels.Uniform(rng, hidden * k, 1f)).Floats("fc_C", [1, k], RandomLstmModels.Uniform(rng, k, 1f));
        g.Node("LSTM", "lstm", ["X", "W", "R", "B", "", "", "", "P"], ["y"], Attr("hidden_size", (long)hidden));
        g.Node("Squeeze", "squeeze", ["y"], ["s"], Attr("axes", new long[] { 1 }));
        g.Node("Flatten", "rows", ["s"], ["r"], Attr("axis", 2L));
        g.Node("Gemm", "fc", ["r", "fc_W", "fc_C"], ["z"]);
        g.Node("Softmax", "softmax", ["z"], ["Y"]);

        var model = OnnxModelImporter.FromBytes(g.Bytes(), "opset-7");
        Assert.Equal(HeadActivation.Softmax, model.Head!.Activation);

        var timeMajorX = RandomLstmModels.Uniform(rng, seq * batch * input, 1.5f);
        var x = SwapSeqAndBatch(timeMajorX, seq, batch, input);
        var ort = RunOnnxRuntime(g.Bytes(), ("X", timeMajorX, [seq, batch, input]));
        var ours = new StackedLstm(model, new ManagedMatMul()).Run(x, batch, seq).Outputs;
        var oursTimeMajor = SwapSeqAndBatch(ours, batch, seq, k);
        Compare(oursTimeMajor, ort, "opset 7 Y");
    }

    [Fact]
    public void Batchwise_layout_imports_like_the_time_major_graph()
    {
        var rng = new Random(303);
        const int input = 3, h0 = 4, h1 = 6;
        var l0 = OnnxWeights.Random(rng, input, h0, peepholes: true);
        var l1 = OnnxWeights.Random(rng, h0, h1, peepholes: false);

        OnnxTestGraph Build(long layout)
        {
            var g = new OnnxTestGraph(opset: 14).Input("X", "a", "b", input).Output("Y", "a", "b", h1);
            g.Floats("W0", [1, 4 * h0, input], l0.W).Floats("R0", [1, 4 * h0, h0], l0.R).Floats("B0", [1, 8 * h0], l0.B).Floats("P0", [1, 3 * h0], l0.P!);
            g.Floats("W1", [1, 4 * h1, h0], l1.W).Floats("R1", [1, 4 * h1, h1], l1.R).Floats("B1", [1, 8 * h1], l1.B);
            g.Ints("dir_axis", layout == 0 ? 1 : 2);
            g.Node("LSTM", "l0", ["X", "W0", "R0", "B0", "", "", "", "P0"], ["y0"], Attr("hidden_size", (long)h0), Attr("layout", layout));
            g.Node("Squeeze", "q0", ["y0", "dir_axis"], ["s0"]);
            g.Node("LSTM", "l1", ["s0", "W1", "R1", "B1"], ["y1"], Attr("hidden_size", (long)h1), Attr("layout", layout));
            g.Node("Squeeze", "q1", ["y1", "dir_axis"], ["Y"]);
            return g;
        }

        var timeMajor = OnnxModelImporter.FromBytes(Build(0).Bytes(), "layout 0");
        var batchwise = OnnxModelImporter.FromBytes(Build(1).Bytes(), "layout 1");
        Assert.Equal(timeMajor.Identity, batchwise.Identity);

        // ONNX Runtime refuses layout 1, so it runs the time-major twin.
        const int batch = 2, seq = 5;
        var x = RandomLstmModels.Uniform(rng, batch * seq * input, 1.5f);
        var timeMajorX = SwapSeqAndBatch(x, batch, seq, input);
        var ort = RunOnnxRuntime(Build(0).Bytes(), ("X", timeMajorX, [seq, batch, input]));
        var ours = new StackedLstm(batchwise, new ManagedMatMul()).Run(x, batch, seq);
        var oursTimeMajor = SwapSeqAndBatch(ours.Outputs, batch, seq, h1);
        Compare(oursTimeMajor, ort, "layout 1 chain");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(12)]
    [InlineData(17)]
    public void Writer_output_reimports_to_the_same_model(int seed)
    {
        var spec = RandomLstmModels.Spec(seed);
        var model = RandomLstmModels.Build(spec, seed);
        var again = OnnxModelImporter.FromBytes(OnnxModelWriter.ToBytes(model, new OnnxExportOptions { StateInputsOutputs = seed % 2 == 0 }), "round trip");
        Assert.Equal(model.Layers.Select(l => (l.InputSize, l.CellSize, l.HasPeepholes, l.GateClip, l.InputForget)),
            again.Layers.Select(l => (l.InputSize, l.CellSize, l.HasPeepholes, l.GateClip, l.InputForget)));
        Assert.Equal(model.Head?.Activation, again.Head?.Activation);
        if (!spec.InputForget)
        {
            // Bit-exact weights: the identity hash covers every value.
            Assert.Equal(model.Identity, again.Identity);
        }

        var rng = new Random(seed);
        const int batch = 3, time = 5;
        var x = RandomLstmModels.Uniform(rng, batch * time * model.InputSize, 1.5f);
        var a = new StackedLstm(model, new ManagedMatMul()).Run(x, batch, time).Outputs;
        var b = new StackedLstm(again, new ManagedMatMul()).Run(x, batch, time).Outputs;
        Compare(a, b, $"round trip seed {seed} ({spec})");
    }

    private void Compare(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var tolerance = new Tolerance(1e-5, 1e-4);
        for (var i = 0; i < actual.Length; i++)
        {
            var index = i;
            tolerance.Check(actual[i], expected[i], () => $"{what}[{index}]");
        }

        output.WriteLine($"{what}: {tolerance.Compared} values, max abs error {tolerance.MaxAbsError:E3}");
        tolerance.AssertPassed(what);
    }

    /// <summary>[outer × inner × width] rows as [inner × outer × width] (time-major ↔ batch-major).</summary>
    private static float[] SwapSeqAndBatch(float[] values, int outer, int inner, int width)
    {
        var swapped = new float[values.Length];
        for (var o = 0; o < outer; o++)
        for (var i = 0; i < inner; i++)
            values.AsSpan((o * inner + i) * width, width).CopyTo(swapped.AsSpan((i * outer + o) * width, width));
        return swapped;
    }

    private static float[] RunOnnxRuntime(byte[] model, (string Name, float[] Values, long[] Shape) input)
    {
        using var session = new InferenceSession(model);
        using var value = OrtValue.CreateTensorValueFromMemory(input.Values, input.Shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, new Dictionary<string, OrtValue> { [input.Name] = value }, [session.OutputNames[0]]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }
}

/// <summary>Random weights in ONNX's own layout (W [4H × in], R [4H × H], B [8H], P [3H]; gates i, o, f, c).</summary>
internal sealed record OnnxWeights(float[] W, float[] R, float[] B, float[]? P)
{
    public static OnnxWeights Random(Random rng, int input, int hidden, bool peepholes) => new(
        RandomLstmModels.Uniform(rng, 4 * hidden * input, 0.8f),
        RandomLstmModels.Uniform(rng, 4 * hidden * hidden, 0.8f),
        RandomLstmModels.Uniform(rng, 8 * hidden, 0.5f),
        peepholes ? RandomLstmModels.Uniform(rng, 3 * hidden, 0.5f) : null);
}
