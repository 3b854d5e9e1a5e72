using System.Buffers.Binary;
using Google.Protobuf;
using LstmStream.Pipeline.Models.Onnx.Proto;
using AttributeType = LstmStream.Pipeline.Models.Onnx.Proto.AttributeProto.Types.AttributeType;
using DataType = LstmStream.Pipeline.Models.Onnx.Proto.TensorProto.Types.DataType;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>
/// Writes an <see cref="LstmModel"/> as an ONNX graph (opset 14) that ONNX Runtime runs with the same
/// outputs: graph input <c>X</c> <c>[seq, batch, input]</c> (float, symbolic seq and batch), optional
/// <c>sequence_lens</c>, one forward <c>LSTM</c> node per layer joined by <c>Squeeze</c> (axis 1, the
/// direction axis), the head as <c>MatMul</c> + <c>Add</c> + activation, and graph output <c>Y</c>
/// <c>[seq, batch, output]</c>. Weights are float initializers in little-endian raw_data.
/// </summary>
public static class OnnxModelWriter
{
    /// <summary>The ONNX opset the written graphs declare.</summary>
    public const int Opset = 14;
    private const long IrVersion = 8;

    /// <summary>Name of the graph input X <c>[seq, batch, input]</c>.</summary>
    public const string InputName = "X";

    /// <summary>Name of the optional graph input of per-sequence lengths.</summary>
    public const string SequenceLengthsName = "sequence_lens";

    /// <summary>Name of the graph output Y.</summary>
    public const string OutputName = "Y";

    /// <summary>Name of the graph input carrying layer <paramref name="layer"/>'s initial h (with <see cref="OnnxExportOptions.StateInputsOutputs"/>).</summary>
    public static string InitialHName(int layer) => $"initial_h_{layer}";

    /// <summary>Name of the graph input carrying layer <paramref name="layer"/>'s initial c (with <see cref="OnnxExportOptions.StateInputsOutputs"/>).</summary>
    public static string InitialCName(int layer) => $"initial_c_{layer}";

    /// <summary>Name of the graph output carrying layer <paramref name="layer"/>'s final h.</summary>
    public static string FinalHName(int layer) => $"Y_h_{layer}";

    /// <summary>Name of the graph output carrying layer <paramref name="layer"/>'s final c.</summary>
    public static string FinalCName(int layer) => $"Y_c_{layer}";

    /// <summary>Writes <paramref name="model"/> as an ONNX file at <paramref name="path"/>.</summary>
    public static void Write(LstmModel model, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var proto = Build(model, options ?? new OnnxExportOptions());
        using var file = File.Create(path);
        proto.WriteTo(file);
    }

    /// <summary>Writes <paramref name="model"/> as an ONNX graph to <paramref name="output"/>.</summary>
    public static void Write(LstmModel model, Stream output, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        Build(model, options ?? new OnnxExportOptions()).WriteTo(output);
    }

    /// <summary>The serialized model.</summary>
    public static byte[] ToBytes(LstmModel model, OnnxExportOptions? options = null) =>
        Build(model, options ?? new OnnxExportOptions()).ToByteArray();

    internal static ModelProto Build(LstmModel model, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        for (var k = 0; k < model.Layers.Count; k++)
        {
            var layer = model.Layers[k];
            if (layer.HasProjection)
                throw new ModelFormatException($"layer {k}: a projection (num_proj {layer.OutputSize}) cannot be expressed by the ONNX LSTM operator");
            if (layer.CellClip is { } cc)
                throw new ModelFormatException($"layer {k}: TensorFlow cell_clip {cc.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} cannot be expressed by the ONNX LSTM operator (its clip bounds the gate inputs, not the cell state)");
        }

        var graph = new GraphProto { Name = options.GraphName };
        graph.Input.Add(TensorValue(InputName, DataType.Float, Dim("seq"), Dim("batch"), Dim(model.InputSize)));
        if (options.SequenceLengths) graph.Input.Add(TensorValue(SequenceLengthsName, DataType.Int32, Dim("batch")));

        const string squeezeAxes = "squeeze_axes";
        graph.Initializer.Add(Int64Tensor(squeezeAxes, [1], [1]));

        var current = InputName;
        for (var k = 0; k < model.Layers.Count; k++)
        {
            var layer = model.Layers[k];
            int hidden = layer.CellSize;
            var (w, r, b, p) = OnnxLstmWeightLayout.FromInternal(layer);
            graph.Initializer.Add(FloatTensor($"W_{k}", [1, 4 * hidden, layer.InputSize], w));
            graph.Initializer.Add(FloatTensor($"R_{k}", [1, 4 * hidden, hidden], r));
            graph.Initializer.Add(FloatTensor($"B_{k}", [1, 8 * hidden], b));
            if (p is not null) graph.Initializer.Add(FloatTensor($"P_{k}", [1, 3 * hidden], p));

            var lstm = new NodeProto { Name = $"lstm_{k}", OpType = "LSTM" };
            lstm.Input.Add([current, $"W_{k}", $"R_{k}", $"B_{k}",
                options.SequenceLengths ? SequenceLengthsName : "",
                options.StateInputsOutputs ? InitialHName(k) : "",
                options.StateInputsOutputs ? InitialCName(k) : "",
                p is not null ? $"P_{k}" : ""]);
            while (lstm.Input[^1].Length == 0) lstm.Input.RemoveAt(lstm.Input.Count - 1);
            lstm.Output.Add($"lstm_{k}_Y");
            if (options.StateInputsOutputs) lstm.Output.Add([FinalHName(k), FinalCName(k)]);
            lstm.Attribute.Add(IntAttribute("hidden_size", hidden));
            if (layer.GateClip is { } clip) lstm.Attribute.Add(new AttributeProto { Name = "clip", Type = AttributeType.Float, F = clip });
            if (layer.InputForget) lstm.Attribute.Add(IntAttribute("input_forget", 1));
            graph.Node.Add(lstm);

            if (options.StateInputsOutputs)
            {
                graph.Input.Add(TensorValue(InitialHName(k), DataType.Float, Dim(1), Dim("batch"), Dim(hidden)));
                graph.Input.Add(TensorValue(InitialCName(k), DataType.Float, Dim(1), Dim("batch"), Dim(hidden)));
            }

            bool last = k == model.Layers.Count - 1;
            var squeezed = last && model.Head is null ? OutputName : $"lstm_{k}_h";
            var squeeze = new NodeProto { Name = $"squeeze_{k}", OpType = "Squeeze" };
            squeeze.Input.Add([$"lstm_{k}_Y", squeezeAxes]);
            squeeze.Output.Add(squeezed);
            graph.Node.Add(squeeze);
            current = squeezed;
        }

        if (model.Head is { } head)
        {
            graph.Initializer.Add(FloatTensor("head_W", [head.InputSize, head.OutputSize], head.Weights));
            graph.Initializer.Add(FloatTensor("head_b", [head.OutputSize], head.Bias));
            var matmul = new NodeProto { Name = "head_matmul", OpType = "MatMul" };
            matmul.Input.Add([current, "head_W"]);
            matmul.Output.Add("head_mm");
            graph.Node.Add(matmul);

            bool hasActivation = head.Activation != HeadActivation.None;
            var add = new NodeProto { Name = "head_add", OpType = "Add" };
            add.Input.Add(["head_mm", "head_b"]);
            add.Output.Add(hasActivation ? "head_affine" : OutputName);
            graph.Node.Add(add);

            if (hasActivation)
            {
                var act = new NodeProto
                {
                    Name = "head_activation",
                    OpType = head.Activation switch
                    {
                        HeadActivation.Sigmoid => "Sigmoid",
                        HeadActivation.Tanh => "Tanh",
                        HeadActivation.Relu => "Relu",
                        HeadActivation.Softmax => "Softmax",
                        _ => throw new ModelFormatException($"head activation {head.Activation} has no ONNX form"),
                    },
                };
                act.Input.Add("head_affine");
                act.Output.Add(OutputName);
                if (head.Activation == HeadActivation.Softmax) act.Attribute.Add(IntAttribute("axis", -1));
                graph.Node.Add(act);
            }
        }

        graph.Output.Add(TensorValue(OutputName, DataType.Float, Dim("seq"), Dim("batch"), Dim(model.OutputSize)));
        if (options.StateInputsOutputs)
        {
            for (var k = 0; k < model.Layers.Count; k++)
            {
                int hidden = model.Layers[k].CellSize;
                graph.Output.Add(TensorValue(FinalHName(k), DataType.Float, Dim(1), Dim("batch"), Dim(hidden)));
                graph.Output.Add(TensorValue(FinalCName(k), DataType.Float, Dim(1), Dim("batch"), Dim(hidden)));
            }
        }

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = options.ProducerName,
            DocString = $"LstmStream export of {model.Source} (identity {model.Identity})",
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return proto;
    }

    private static TensorShapeProto.Types.Dimension Dim(string symbol) => new() { DimParam = symbol };

    private static TensorShapeProto.Types.Dimension Dim(long size) => new() { DimValue = size };

    private static ValueInfoProto TensorValue(string name, DataType type, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(dims);
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static AttributeProto IntAttribute(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    private static TensorProto FloatTensor(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.Add(dims);
        return t;
    }

    private static TensorProto Int64Tensor(string name, long[] dims, ReadOnlySpan<long> values)
    {
        var bytes = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), values[i]);
        var t = new TensorProto { Name = name, DataType = (int)DataType.Int64, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.Add(dims);
        return t;
    }
}
