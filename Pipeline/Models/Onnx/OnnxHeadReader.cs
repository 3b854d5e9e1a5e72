using System.Globalization;
using LstmStream.Pipeline.Models.Onnx.Proto;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>Collects the optional dense head after the top LSTM: one affine map, then one activation.</summary>
internal sealed class OnnxHeadReader
{
    private readonly OnnxGraphView _view;
    private readonly long _opset;
    private float[]? _weights;
    private float[]? _bias;
    private int _inputs;
    private int _outputs;
    private bool _hasBias;
    private HeadActivation? _activation;

    public OnnxHeadReader(OnnxGraphView view, long opset)
    {
        _view = view;
        _opset = opset;
    }

    public int? OutputSize => _weights is null ? null : _outputs;

    public DenseHead? Build() => _weights is null
        ? null
        : new DenseHead(_inputs, _outputs, _weights, _bias ?? new float[_outputs], _activation ?? HeadActivation.None);

    public SymbolicShape Apply(NodeProto node, SymbolicShape shape, int features)
    {
        var attrs = new OnnxNodeAttributes(node);
        var where = attrs.Where;
        var view = _view;
        switch (node.OpType)
        {
            case "MatMul":
            case "Gemm":
            {
                if (_weights is not null) throw new ModelFormatException($"{where}: a second dense layer after the LSTM chain is not supported (one head only)");
                if (!shape.EndsWithFeatures(features))
                    throw new ModelFormatException($"{where}: its data input has shape {shape}; expected the {features} features of the top LSTM as the last axis");
                if (node.Input[0] != DataOf(node, view))
                    throw new ModelFormatException($"{where}: the data must be the first operand (data · weights)");
                var bName = node.Input[1];
                var b = view.Constant(bName) ?? throw new ModelFormatException($"{where}: weights '{bName}' are not a constant");
                var values = b.RequireFloats(where);
                float alpha = 1f, beta = 1f;
                bool transB = false;
                if (node.OpType == "Gemm")
                {
                    attrs.RejectOthers("alpha", "beta", "transA", "transB");
                    if (shape.Rank != 2) throw new ModelFormatException($"{where}: Gemm needs a 2-D data input, got shape {shape}");
                    if ((attrs.Int("transA") ?? 0) != 0) throw attrs.Unsupported("transA", attrs.Int("transA")!.Value.ToString(CultureInfo.InvariantCulture), "the data input must not be transposed");
                    transB = (attrs.Int("transB") ?? 0) != 0;
                    alpha = attrs.Float("alpha") ?? 1f;
                    beta = attrs.Float("beta") ?? 1f;
                }
                else
                {
                    attrs.RejectOthers();
                }

                if (b.Dims.Length != 2) throw new ModelFormatException($"{where}: weights '{bName}' have shape {b.ShapeText}, expected 2-D");
                int rows = (int)(transB ? b.Dims[1] : b.Dims[0]), cols = (int)(transB ? b.Dims[0] : b.Dims[1]);
                if (rows != features)
                    throw new ModelFormatException($"{where}: weights '{bName}' have shape {b.ShapeText}{(transB ? " (transB)" : "")}, expected {features} rows for the top LSTM's {features} outputs");
                _inputs = rows;
                _outputs = cols;
                _weights = new float[rows * cols];
                for (var r = 0; r < rows; r++)
                for (var c = 0; c < cols; c++)
                    _weights[r * cols + c] = alpha * (transB ? values[c * rows + r] : values[r * cols + c]);

                if (node.OpType == "Gemm" && node.Input.Count > 2 && node.Input[2].Length > 0)
                {
                    _bias = BiasVector(node.Input[2], view, where);
                    for (var k = 0; k < _bias.Length; k++) _bias[k] *= beta;
                    _hasBias = true;
                }

                return shape.WithLastAxis(new SymbolicAxis(AxisRole.Feature, cols));
            }

            case "Add":
            {
                attrs.RejectOthers();
                if (_weights is null) throw new ModelFormatException($"{where}: an Add without a preceding MatMul is not supported after the LSTM chain");
                if (_activation is not null) throw new ModelFormatException($"{where}: an Add after the head's activation is not supported");
                if (_hasBias) throw new ModelFormatException($"{where}: a second bias after the dense head is not supported");
                var data = DataOf(node, view);
                var constant = node.Input.First(i => i != data);
                _bias = BiasVector(constant, view, where);
                _hasBias = true;
                return shape;
            }

            default:
            {
                if (_weights is null)
                    throw new ModelFormatException($"{where}: an activation without a dense layer (MatMul or Gemm) before it is not supported");
                if (_activation is not null) throw new ModelFormatException($"{where}: a second activation after the dense head is not supported");
                _activation = node.OpType switch
                {
                    "Sigmoid" => HeadActivation.Sigmoid,
                    "Tanh" => HeadActivation.Tanh,
                    "Relu" => HeadActivation.Relu,
                    _ => HeadActivation.Softmax,
                };
                if (node.OpType == "Softmax")
                {
                    attrs.RejectOthers("axis");
                    long axis = attrs.Int("axis") ?? (_opset >= 13 ? -1 : 1);
                    long normalized = axis < 0 ? axis + shape.Rank : axis;
                    if (normalized != shape.Rank - 1)
                        throw attrs.Unsupported("axis", axis.ToString(CultureInfo.InvariantCulture), $"softmax must run over the last axis of {shape} (opset {_opset})");
                }
                else
                {
                    attrs.RejectOthers();
                }

                return shape;
            }
        }
    }

    private float[] BiasVector(string name, OnnxGraphView view, string where)
    {
        var t = view.Constant(name) ?? throw new ModelFormatException($"{where}: bias '{name}' is not a constant");
        var v = t.RequireFloats(where);
        bool broadcastsOnLastAxis = t.Dims.Length == 0 || t.Dims[..^1].All(d => d == 1);
        if (broadcastsOnLastAxis && v.Length == _outputs) return (float[])v.Clone();
        if (broadcastsOnLastAxis && v.Length == 1) return Enumerable.Repeat(v[0], _outputs).ToArray();
        throw new ModelFormatException($"{where}: bias '{name}' has shape {t.ShapeText}, expected [{_outputs}] (one value per head output)");
    }

    private static string DataOf(NodeProto node, OnnxGraphView view) =>
        node.Input.Single(i => i.Length > 0 && !view.IsConstant(i));
}
