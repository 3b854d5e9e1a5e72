using LstmStream.Pipeline.Models.Onnx.Proto;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>
/// Lookups over one ONNX graph: which node produces a value, which values are constants (initializers
/// and Constant nodes), which are graph inputs, and whether a value is provably all zeros.
/// </summary>
internal sealed class OnnxGraphView
{
    private readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeProto> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OnnxTensor> _decoded = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inputs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _folding = new(StringComparer.Ordinal);

    public OnnxGraphView(GraphProto graph)
    {
        Graph = graph;
        foreach (var t in graph.Initializer)
        {
            if (!_initializers.TryAdd(t.Name, t)) throw new ModelFormatException($"graph '{graph.Name}': initializer '{t.Name}' is defined twice");
        }

        foreach (var i in graph.Input)
        {
            if (!_initializers.ContainsKey(i.Name)) _inputs.Add(i.Name);
        }

        foreach (var n in graph.Node)
        {
            foreach (var o in n.Output)
            {
                if (o.Length == 0) continue;
                if (!_producers.TryAdd(o, n))
                    throw new ModelFormatException($"{OnnxNodeAttributes.Describe(n)}: value '{o}' is also produced by {OnnxNodeAttributes.Describe(_producers[o])}");
            }
        }
    }

    public GraphProto Graph { get; }

    /// <summary>True for a graph input that is not an initializer (a value fed at run time).</summary>
    public bool IsRuntimeInput(string name) => _inputs.Contains(name);

    public NodeProto? Producer(string name) => _producers.GetValueOrDefault(name);

    public bool IsConstant(string name) => _initializers.ContainsKey(name) || Constant(name) is not null;

    /// <summary>
    /// The value of an initializer, a Constant node's output, or a shape / slice / concat operator over
    /// constants (see <see cref="OnnxConstantFolder"/>); null when the value depends on a graph input.
    /// </summary>
    public OnnxTensor? Constant(string name)
    {
        if (_decoded.TryGetValue(name, out var cached)) return cached;
        OnnxTensor? t = null;
        if (_initializers.TryGetValue(name, out var init))
        {
            t = OnnxTensor.FromProto(init, $"initializer '{name}'");
        }
        else if (Producer(name) is { OpType: "Constant" } node)
        {
            t = ConstantNodeValue(node, name);
        }
        else if (Producer(name) is { } computed && computed.Output[0] == name && _folding.Add(name))
        {
            try
            {
                t = OnnxConstantFolder.TryFold(computed, Constant);
            }
            finally
            {
                _folding.Remove(name);
            }
        }

        if (t is not null) _decoded[name] = t;
        return t;
    }

    /// <summary>
    /// True when <paramref name="name"/> is all zeros whatever the inputs: a zero constant, a
    /// ConstantOfShape of zero, or a shape/broadcast operator applied to such a value (how exporters
    /// build a zero initial state of the right batch size).
    /// </summary>
    public bool IsProvablyZero(string name)
    {
        for (var guard = 0; guard < 64; guard++)
        {
            if (Constant(name) is { } c) return c.IsAllZero;
            var node = Producer(name);
            if (node is null) return false;
            switch (node.OpType)
            {
                case "ConstantOfShape":
                {
                    var value = new OnnxNodeAttributes(node).Tensor("value");
                    return value is null || OnnxTensor.FromProto(value, OnnxNodeAttributes.Describe(node)).IsAllZero;
                }

                case "Expand" or "Tile" or "Slice" or "Gather" or "Reshape" or "Unsqueeze" or "Squeeze" or "Identity"
                    or "Transpose" or "Cast" or "Flatten":
                    if (node.Input.Count == 0) return false;
                    name = node.Input[0];
                    break;
                default:
                    return false;
            }
        }

        return false;
    }

    /// <summary>
    /// True when <paramref name="name"/> is a graph input, or a slice / reshape of one (how PyTorch hands
    /// each layer its part of a <c>[layers, batch, hidden]</c> state input): state fed at run time.
    /// </summary>
    public bool IsDerivedFromRuntimeInput(string name)
    {
        for (var guard = 0; guard < 64; guard++)
        {
            if (IsRuntimeInput(name)) return true;
            var node = Producer(name);
            if (node is null || node.Input.Count == 0) return false;
            if (node.OpType is not ("Slice" or "Gather" or "Split" or "Reshape" or "Unsqueeze" or "Squeeze" or "Identity" or "Transpose" or "Cast"))
                return false;
            name = node.Input[0];
        }

        return false;
    }

    private static OnnxTensor ConstantNodeValue(NodeProto node, string name)
    {
        var attrs = new OnnxNodeAttributes(node);
        var where = attrs.Where;
        attrs.RejectOthers("value", "value_float", "value_floats", "value_int", "value_ints");
        if (attrs.Tensor("value") is { } t)
        {
            var decoded = OnnxTensor.FromProto(t, where);
            return decoded.Floats is { } f ? OnnxTensor.FromFloats(name, decoded.Dims, f) : OnnxTensor.FromIntegers(name, decoded.Dims, decoded.Integers!);
        }

        if (attrs.Float("value_float") is { } vf) return OnnxTensor.FromFloats(name, [], [vf]);
        if (attrs.Floats("value_floats") is { } vfs) return OnnxTensor.FromFloats(name, [vfs.Length], vfs);
        if (attrs.Int("value_int") is { } vi) return OnnxTensor.FromIntegers(name, [], [vi]);
        if (attrs.Ints("value_ints") is { } vis) return OnnxTensor.FromIntegers(name, [vis.Length], vis);
        throw new ModelFormatException($"{where}: Constant node has no value attribute that is supported (value, value_float(s), value_int(s))");
    }
}
