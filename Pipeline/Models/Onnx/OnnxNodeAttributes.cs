using System.Text;
using LstmStream.Pipeline.Models.Onnx.Proto;
using AttributeType = LstmStream.Pipeline.Models.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>
/// Typed access to one node's attributes, with errors that name the node, the attribute and its value.
/// Every attribute the importer does not read is refused by <see cref="RejectOthers"/>, so nothing in a
/// file is silently ignored.
/// </summary>
internal sealed class OnnxNodeAttributes
{
    private readonly Dictionary<string, AttributeProto> _byName = new(StringComparer.Ordinal);

    public OnnxNodeAttributes(NodeProto node)
    {
        Node = node;
        foreach (var a in node.Attribute)
        {
            if (a.HasRefAttrName && a.RefAttrName.Length > 0)
                throw new ModelFormatException($"{Describe(node)}: attribute '{a.Name}' refers to a function attribute ('{a.RefAttrName}'), which is not supported");
            if (!_byName.TryAdd(a.Name, a))
                throw new ModelFormatException($"{Describe(node)}: attribute '{a.Name}' is given twice");
        }
    }

    public NodeProto Node { get; }

    /// <summary>"node 'lstm0' (LSTM)" or "LSTM node #3" for unnamed nodes.</summary>
    public string Where => Describe(Node);

    public static string Describe(NodeProto node) =>
        node.Name.Length > 0 ? $"node '{node.Name}' ({node.OpType})" : $"{node.OpType} node with outputs [{string.Join(", ", node.Output)}]";

    public long? Int(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        Expect(a, AttributeType.Int, a.HasI);
        return a.I;
    }

    public float? Float(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        Expect(a, AttributeType.Float, a.HasF);
        return a.F;
    }

    public string? String(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        Expect(a, AttributeType.String, a.HasS);
        return Encoding.UTF8.GetString(a.S.Span);
    }

    public long[]? Ints(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        Expect(a, AttributeType.Ints, true);
        return a.Ints.ToArray();
    }

    public float[]? Floats(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        Expect(a, AttributeType.Floats, true);
        return a.Floats.ToArray();
    }

    public string[]? Strings(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        Expect(a, AttributeType.Strings, true);
        return a.Strings.Select(s => Encoding.UTF8.GetString(s.Span)).ToArray();
    }

    public TensorProto? Tensor(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        Expect(a, AttributeType.Tensor, a.T is not null);
        return a.T;
    }

    /// <summary>Refuses every attribute not in <paramref name="known"/>.</summary>
    public void RejectOthers(params string[] known)
    {
        foreach (var (name, a) in _byName)
        {
            if (Array.IndexOf(known, name) < 0)
                throw new ModelFormatException($"{Where}: attribute '{name}' = {ValueText(a)} is not supported");
        }
    }

    public ModelFormatException Unsupported(string attribute, string value, string reason) =>
        new($"{Where}: attribute '{attribute}' = {value} is not supported: {reason}");

    private void Expect(AttributeProto a, AttributeType type, bool present)
    {
        bool typeOk = a.HasType ? a.Type == type : present;
        if (!typeOk)
            throw new ModelFormatException($"{Where}: attribute '{a.Name}' has type {(a.HasType ? a.Type.ToString().ToUpperInvariant() : "unset")}, expected {type.ToString().ToUpperInvariant()}");
    }

    private static string ValueText(AttributeProto a) => a.Type switch
    {
        AttributeType.Float => a.F.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        AttributeType.Int => a.I.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AttributeType.String => $"'{Encoding.UTF8.GetString(a.S.Span)}'",
        AttributeType.Floats => "[" + string.Join(", ", a.Floats.Select(f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]",
        AttributeType.Ints => "[" + string.Join(", ", a.Ints) + "]",
        AttributeType.Strings => "[" + string.Join(", ", a.Strings.Select(s => $"'{Encoding.UTF8.GetString(s.Span)}'")) + "]",
        AttributeType.Tensor => $"tensor {(a.T is null ? "" : "[" + string.Join(",", a.T.Dims) + "]")}",
        _ => a.Type.ToString().ToUpperInvariant(),
    };
}
