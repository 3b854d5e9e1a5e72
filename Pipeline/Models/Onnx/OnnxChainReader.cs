using LstmStream.Pipeline.Models.Onnx.Proto;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>One pass over one model: finds the chain, checks every node on it and assembles the model.</summary>
internal sealed class OnnxChainReader
{
    private const int MinimumOpset = 7;

    private static readonly HashSet<string> ShapeOps = ["Identity", "Squeeze", "Unsqueeze", "Reshape", "Transpose", "Flatten"];
    private static readonly HashSet<string> ActivationOps = ["Sigmoid", "Tanh", "Relu", "Softmax"];

    private readonly ModelProto _model;
    private readonly string _source;
    private readonly OnnxGraphView _view;
    private readonly long _opset;

    public OnnxChainReader(ModelProto model, string source)
    {
        _model = model;
        _source = source;
        if (model.Graph is null) throw new ModelFormatException($"{source}: the model has no graph");
        _view = new OnnxGraphView(model.Graph);
        _opset = DefaultOpset(model);
    }

    public LstmModel Read()
    {
        var graph = _model.Graph;
        foreach (var n in graph.Node)
        {
            if (n.Domain.Length > 0 && n.Domain != "ai.onnx")
                throw new ModelFormatException($"{OnnxNodeAttributes.Describe(n)}: operator domain '{n.Domain}' is not supported (only the default ONNX domain)");
        }

        var lstmNodes = graph.Node.Where(n => n.OpType == "LSTM").ToList();
        if (lstmNodes.Count == 0) throw new ModelFormatException($"graph '{graph.Name}' has no LSTM node");
        if (graph.Output.Count == 0) throw new ModelFormatException($"graph '{graph.Name}' has no output");

        var output = ChooseOutput();
        var chain = WalkBack(output);

        foreach (var n in lstmNodes)
        {
            if (!chain.Any(step => ReferenceEquals(step.Node, n)))
                throw new ModelFormatException($"{OnnxNodeAttributes.Describe(n)} is not on the chain from the graph input to output '{output}'; only one chain of LSTM layers is supported");
        }

        return Assemble(chain, output);
    }

    private static long DefaultOpset(ModelProto model)
    {
        var entry = model.OpsetImport.FirstOrDefault(o => o.Domain.Length == 0 || o.Domain == "ai.onnx");
        if (entry is null) throw new ModelFormatException("the model imports no version of the default ONNX operator set (opset_import is empty)");
        if (entry.Version < MinimumOpset)
            throw new ModelFormatException($"opset {entry.Version} is not supported; opset {MinimumOpset} or newer is required");
        return entry.Version;
    }

    /// <summary>The graph output whose chain passes the most LSTM nodes (then: Y over Y_h, then the longest).</summary>
    private string ChooseOutput()
    {
        string? best = null;
        (int Lstms, int UsesY, int Length) bestScore = (-1, -1, -1);
        foreach (var o in _model.Graph.Output)
        {
            int lstms = 0, usesY = 0, length = 0;
            var value = o.Name;
            bool first = true;
            for (var guard = 0; guard < 100_000; guard++)
            {
                var node = _view.Producer(value);
                if (node is null || node.Input.Count == 0 || node.OpType == "Constant") break;
                length++;
                if (node.OpType == "LSTM")
                {
                    if (first) usesY = node.Output.Count > 0 && node.Output[0] == value ? 1 : 0;
                    first = false;
                    lstms++;
                }

                value = DataInput(node) ?? "";
                if (value.Length == 0) break;
            }

            var score = (lstms, usesY, length);
            if (score.CompareTo(bestScore) > 0)
            {
                best = o.Name;
                bestScore = score;
            }
        }

        if (best is null || bestScore.Lstms == 0)
            throw new ModelFormatException($"graph '{_model.Graph.Name}': no graph output is computed from an LSTM node");
        return best;
    }

    /// <summary>The input of <paramref name="node"/> that carries the sequence data (not a weight).</summary>
    private string? DataInput(NodeProto node)
    {
        if (node.OpType is "MatMul" or "Add")
        {
            var computed = node.Input.Where(i => i.Length > 0 && !_view.IsConstant(i)).ToList();
            return computed.Count == 1 ? computed[0] : null;
        }

        return node.Input.Count > 0 ? node.Input[0] : null;
    }

    private List<(NodeProto Node, string Output)> WalkBack(string output)
    {
        var steps = new List<(NodeProto Node, string Output)>();
        var value = output;
        while (true)
        {
            if (_view.IsConstant(value))
                throw new ModelFormatException($"value '{value}' on the chain to output '{output}' is a constant, not computed from the input");
            var node = _view.Producer(value);
            if (node is null)
            {
                if (!_view.IsRuntimeInput(value))
                    throw new ModelFormatException($"value '{value}' on the chain to output '{output}' is neither a graph input nor produced by a node");
                break;
            }

            var where = OnnxNodeAttributes.Describe(node);
            bool supported = node.OpType is "LSTM" or "MatMul" or "Add" or "Gemm" || ShapeOps.Contains(node.OpType) || ActivationOps.Contains(node.OpType);
            if (!supported)
                throw new ModelFormatException(
                    $"{where} on the chain to output '{output}' is not supported; supported operators: LSTM, Squeeze, Unsqueeze, Reshape, Transpose, Flatten, Identity, MatMul, Add, Gemm, Sigmoid, Tanh, Relu, Softmax");
            if (steps.Count > _model.Graph.Node.Count) throw new ModelFormatException($"the graph has a cycle through {where}");
            steps.Add((node, value));
            value = DataInput(node) ?? throw new ModelFormatException(
                $"{where}: expected exactly one computed input and constant weights, got inputs [{string.Join(", ", node.Input.Select(i => $"'{i}'"))}]");
            if (value.Length == 0) throw new ModelFormatException($"{where}: the data input is missing");
        }

        var input = _model.Graph.Input.First(i => i.Name == value);
        if (input.Type?.TensorType is { HasElemType: true } tt && tt.ElemType != (int)TensorProto.Types.DataType.Float)
            throw new ModelFormatException($"graph input '{value}' has element type {OnnxTensor.DescribeType(tt.ElemType)}; only FLOAT inputs are supported");
        steps.Reverse();
        return steps;
    }

    private LstmModel Assemble(List<(NodeProto Node, string Output)> chain, string output)
    {
        int firstLstm = chain.FindIndex(s => s.Node.OpType == "LSTM");
        int lastLstm = chain.FindLastIndex(s => s.Node.OpType == "LSTM");

        // Before the first layer: only axis permutations of the rank-3 input.
        for (var i = 0; i < firstLstm; i++)
        {
            var node = chain[i].Node;
            if (node.OpType is not ("Identity" or "Transpose"))
                throw new ModelFormatException($"{OnnxNodeAttributes.Describe(node)} before the first LSTM is not supported; only Transpose and Identity may come between the graph input and the first LSTM");
            new OnnxNodeAttributes(node).RejectOthers(node.OpType == "Transpose" ? ["perm"] : []);
            if (node.OpType == "Transpose") new SymbolicShape([new(AxisRole.Seq), new(AxisRole.Batch), new(AxisRole.Feature, 1)]).Transpose(Perm(node), OnnxNodeAttributes.Describe(node));
        }

        var layers = new List<LstmLayer>();
        SymbolicShape? shape = null;
        var head = new OnnxHeadReader(_view, _opset);
        for (var i = firstLstm; i < chain.Count; i++)
        {
            var (node, value) = chain[i];
            var where = OnnxNodeAttributes.Describe(node);
            if (node.OpType == "LSTM")
            {
                var translated = OnnxLstmNodeTranslator.Translate(node, _view.Constant, IsAcceptableInitialState);
                var layer = translated.Layer;
                var expected = LstmInputShape(translated.Layout, layer.InputSize);
                if (shape is not null && !shape.Axes.SequenceEqual(expected.Axes))
                    throw new ModelFormatException($"{where}: its input X has shape {shape} after the previous layer, expected {expected} for layout {translated.Layout}");
                if (layers.Count > 0 && layers[^1].OutputSize != layer.InputSize)
                    throw new ModelFormatException($"{where}: takes {layer.InputSize} inputs but the previous LSTM outputs {layers[^1].OutputSize}");
                layers.Add(layer);
                int outIndex = node.Output.IndexOf(value);
                if (outIndex == 1 && i != lastLstm)
                    throw new ModelFormatException($"{where}: output Y_h '{value}' feeds the next layer; only Y may feed a following LSTM");
                if (outIndex == 2)
                    throw new ModelFormatException($"{where}: output Y_c '{value}' is used on the chain; only Y (or Y_h of the top layer) is supported");
                shape = LstmOutputShape(translated.Layout, layer.CellSize, outIndex == 0);
                continue;
            }

            if (ShapeOps.Contains(node.OpType))
            {
                shape = ApplyShapeOp(node, shape!, where);
                continue;
            }

            if (i < lastLstm)
                throw new ModelFormatException($"{where} between LSTM layers is not supported; only Squeeze, Unsqueeze, Reshape, Transpose, Flatten and Identity may join layers");
            shape = head.Apply(node, shape!, layers[^1].OutputSize);
        }

        if (!shape!.EndsWithFeatures(head.OutputSize ?? layers[^1].OutputSize))
            throw new ModelFormatException($"output '{output}' has shape {shape}; expected the features as its last axis");
        return new LstmModel(layers, head.Build(), $"{_source} (onnx)");
    }

    private bool IsAcceptableInitialState(string name) => _view.IsDerivedFromRuntimeInput(name) || _view.IsProvablyZero(name);

    private static SymbolicShape LstmInputShape(int layout, int inputSize) => layout == 0
        ? new SymbolicShape([new(AxisRole.Seq), new(AxisRole.Batch), new(AxisRole.Feature, inputSize)])
        : new SymbolicShape([new(AxisRole.Batch), new(AxisRole.Seq), new(AxisRole.Feature, inputSize)]);

    private static SymbolicShape LstmOutputShape(int layout, int hidden, bool sequence)
    {
        SymbolicAxis seq = new(AxisRole.Seq), batch = new(AxisRole.Batch), dir = new(AxisRole.Direction, 1), f = new(AxisRole.Feature, hidden);
        return (layout, sequence) switch
        {
            (0, true) => new SymbolicShape([seq, dir, batch, f]),
            (1, true) => new SymbolicShape([batch, seq, dir, f]),
            (0, false) => new SymbolicShape([dir, batch, f]),
            _ => new SymbolicShape([batch, dir, f]),
        };
    }

    private SymbolicShape ApplyShapeOp(NodeProto node, SymbolicShape shape, string where)
    {
        var attrs = new OnnxNodeAttributes(node);
        switch (node.OpType)
        {
            case "Identity":
                attrs.RejectOthers();
                return shape;
            case "Transpose":
                attrs.RejectOthers("perm");
                return shape.Transpose(Perm(node), where);
            case "Squeeze":
                attrs.RejectOthers("axes");
                return shape.Squeeze(Axes(node, attrs, required: false), where);
            case "Unsqueeze":
                attrs.RejectOthers("axes");
                return shape.Unsqueeze(Axes(node, attrs, required: true)!, where);
            case "Flatten":
                attrs.RejectOthers("axis");
                return shape.Flatten(attrs.Int("axis") ?? 1, where);
            case "Reshape":
            {
                attrs.RejectOthers("allowzero");
                var target = node.Input.Count > 1 && node.Input[1].Length > 0 ? node.Input[1] : throw new ModelFormatException($"{where}: the shape input is missing");
                var values = _view.Constant(target)?.RequireIntegers(where)
                    ?? throw new ModelFormatException($"{where}: the target shape '{target}' is computed at run time; only constant shapes are supported");
                return shape.Reshape(values, (attrs.Int("allowzero") ?? 0) != 0, where);
            }

            default:
                throw new InvalidOperationException(node.OpType);
        }
    }

    private long[]? Axes(NodeProto node, OnnxNodeAttributes attrs, bool required)
    {
        var where = attrs.Where;
        if (attrs.Ints("axes") is { } fromAttribute) return fromAttribute;
        if (node.Input.Count > 1 && node.Input[1].Length > 0)
        {
            return _view.Constant(node.Input[1])?.RequireIntegers(where)
                ?? throw new ModelFormatException($"{where}: the axes input '{node.Input[1]}' is computed at run time; only constant axes are supported");
        }

        if (required) throw new ModelFormatException($"{where}: no axes given (neither attribute nor input)");
        return null;
    }

    private static long[]? Perm(NodeProto node) => new OnnxNodeAttributes(node).Ints("perm");
}
