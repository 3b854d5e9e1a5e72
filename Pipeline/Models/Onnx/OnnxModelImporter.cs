using Google.Protobuf;
using LstmStream.Pipeline.Models.Onnx.Proto;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>
/// Loads an ONNX model made of forward <c>LSTM</c> nodes (joined by the Squeeze / Unsqueeze / Reshape /
/// Transpose / Flatten / Identity nodes exporters put between them) with an optional dense head
/// (MatMul + Add or Gemm, then Sigmoid, Tanh, Relu or Softmax) into an <see cref="LstmModel"/>.
/// Anything else throws a <see cref="ModelFormatException"/> naming the node, attribute and value.
/// <para>
/// The chain runs from one graph input to the graph output that passes through the most LSTM nodes.
/// The top layer may feed the head through its <c>Y</c> or its <c>Y_h</c> output (the per-step result is
/// the same); initial states must be zero, absent, or graph inputs or slices of one (run-time state,
/// which the engine supplies itself: zero at the start of every sequence); <c>sequence_lens</c> is ignored because the engine steps each sequence on its own.
/// </para>
/// </summary>
internal static class OnnxModelImporter
{
    /// <summary>Loads the ONNX model file at <paramref name="path"/>.</summary>
    public static LstmModel Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{path}: cannot read the model file: {e.Message}", e);
        }

        return FromBytes(bytes, path);
    }

    /// <summary>Loads a serialized ONNX <c>ModelProto</c>; <paramref name="source"/> names it in messages.</summary>
    public static LstmModel FromBytes(ReadOnlySpan<byte> bytes, string source)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ModelFormatException($"{source}: not a valid ONNX model (protobuf): {e.Message}", e);
        }

        return Import(model, source);
    }

    /// <summary>Translates a parsed ONNX model.</summary>
    internal static LstmModel Import(ModelProto model, string source)
    {
        try
        {
            return new OnnxChainReader(model, source).Read();
        }
        catch (ModelFormatException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw new ModelFormatException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Builds the layer of one LSTM node whose W, R, B, P (and, when connected, initial_h / initial_c,
    /// which must be all zeros) come from <paramref name="tensors"/> by input name, as in the ONNX
    /// backend node tests where they are graph inputs. Returns the layer and the node's layout (0 or 1).
    /// </summary>
    internal static (LstmLayer Layer, int Layout) BuildLayer(NodeProto node, IReadOnlyDictionary<string, TensorProto> tensors)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.OpType != "LSTM") throw new ModelFormatException($"{OnnxNodeAttributes.Describe(node)}: expected an LSTM node");
        var decoded = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        OnnxTensor? Constant(string name)
        {
            if (decoded.TryGetValue(name, out var t)) return t;
            if (!tensors.TryGetValue(name, out var proto)) return null;
            return decoded[name] = OnnxTensor.FromProto(proto, $"tensor '{name}'");
        }

        var translated = OnnxLstmNodeTranslator.Translate(node, Constant, name => Constant(name)?.IsAllZero ?? false);
        return (translated.Layer, translated.Layout);
    }
}
