using System.Globalization;
using LstmStream.Pipeline.Models.Onnx.Proto;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>An ONNX LSTM node translated to the internal layer, with the axis layout of its X input.</summary>
internal sealed record OnnxLstmNode(NodeProto Node, LstmLayer Layer, int Layout);

/// <summary>
/// Reads one ONNX <c>LSTM</c> node (forward direction, default activations) into an internal
/// <see cref="LstmLayer"/>, refusing every attribute value and input the engine cannot reproduce.
/// </summary>
internal static class OnnxLstmNodeTranslator
{
    private static readonly string[] DefaultActivations = ["Sigmoid", "Tanh", "Tanh"];

    /// <param name="node">The LSTM node.</param>
    /// <param name="constant">The value of a named constant input (W, R, B, P), or null when it is not constant.</param>
    /// <param name="isZeroState">Whether a named initial_h / initial_c input is acceptable as a zero initial state.</param>
    public static OnnxLstmNode Translate(NodeProto node, Func<string, OnnxTensor?> constant, Func<string, bool> isZeroState)
    {
        var attrs = new OnnxNodeAttributes(node);
        var where = attrs.Where;
        attrs.RejectOthers("hidden_size", "direction", "activations", "activation_alpha", "activation_beta", "clip",
            "input_forget", "layout", "output_sequence");

        var direction = attrs.String("direction") ?? "forward";
        if (direction != "forward")
            throw attrs.Unsupported("direction", $"'{direction}'", "only forward LSTMs are supported");

        if (attrs.Strings("activations") is { } acts)
        {
            bool defaults = acts.Length == 3 && acts.Zip(DefaultActivations).All(p => string.Equals(p.First, p.Second, StringComparison.OrdinalIgnoreCase));
            if (!defaults)
                throw attrs.Unsupported("activations", "[" + string.Join(", ", acts.Select(a => $"'{a}'")) + "]", "only the defaults Sigmoid, Tanh, Tanh are supported");
        }

        if (attrs.Floats("activation_alpha") is { Length: > 0 } alpha)
            throw attrs.Unsupported("activation_alpha", "[" + string.Join(", ", alpha.Select(F)) + "]", "the default activations take no parameters");
        if (attrs.Floats("activation_beta") is { Length: > 0 } beta)
            throw attrs.Unsupported("activation_beta", "[" + string.Join(", ", beta.Select(F)) + "]", "the default activations take no parameters");

        float? clip = null;
        if (attrs.Float("clip") is { } c)
        {
            if (!(c > 0) || float.IsInfinity(c)) throw attrs.Unsupported("clip", F(c), "the clip threshold must be a positive finite number");
            clip = c;
        }

        var inputForgetValue = attrs.Int("input_forget") ?? 0;
        if (inputForgetValue is not (0 or 1)) throw attrs.Unsupported("input_forget", inputForgetValue.ToString(CultureInfo.InvariantCulture), "must be 0 or 1");
        var layout = attrs.Int("layout") ?? 0;
        if (layout is not (0 or 1)) throw attrs.Unsupported("layout", layout.ToString(CultureInfo.InvariantCulture), "must be 0 or 1");
        var outputSequence = attrs.Int("output_sequence") ?? 0;
        if (outputSequence is not (0 or 1)) throw attrs.Unsupported("output_sequence", outputSequence.ToString(CultureInfo.InvariantCulture), "must be 0 or 1");

        string Input(int i) => i < node.Input.Count ? node.Input[i] : "";
        if (Input(0).Length == 0) throw new ModelFormatException($"{where}: input X is missing");

        var w = RequireConstant(where, "W", Input(1), constant);
        var r = RequireConstant(where, "R", Input(2), constant);
        var b = Input(3).Length > 0 ? RequireConstant(where, "B", Input(3), constant) : null;
        var p = Input(7).Length > 0 ? RequireConstant(where, "P", Input(7), constant) : null;

        if (w.Dims.Length != 3) throw Shape(where, "W", w, "[num_directions, 4*hidden_size, input_size]");
        if (w.Dims[0] != 1)
            throw new ModelFormatException($"{where}: W '{w.Name}' has shape {w.ShapeText} with num_directions {w.Dims[0]}; only one (forward) direction is supported");
        if (w.Dims[1] % 4 != 0 || w.Dims[1] == 0 || w.Dims[2] == 0) throw Shape(where, "W", w, "[1, 4*hidden_size, input_size]");
        int hidden = checked((int)(w.Dims[1] / 4)), inputSize = checked((int)w.Dims[2]);
        if (attrs.Int("hidden_size") is { } hs && hs != hidden)
            throw attrs.Unsupported("hidden_size", hs.ToString(CultureInfo.InvariantCulture), $"W '{w.Name}' has shape {w.ShapeText}, which means hidden_size {hidden}");

        ExpectShape(where, "R", r, [1, 4L * hidden, hidden]);
        if (b is not null) ExpectShape(where, "B", b, [1, 8L * hidden]);
        if (p is not null) ExpectShape(where, "P", p, [1, 3L * hidden]);

        foreach (var (index, label) in new[] { (5, "initial_h"), (6, "initial_c") })
        {
            var name = Input(index);
            if (name.Length > 0 && !isZeroState(name))
                throw new ModelFormatException($"{where}: input {label} '{name}' is not a zero initial state; only zero initial states are supported (the engine starts every sequence from zero)");
        }

        var layer = OnnxLstmWeightLayout.ToInternal(inputSize, hidden, w.RequireFloats(where), r.RequireFloats(where), b?.RequireFloats(where),
            p?.RequireFloats(where), inputForgetValue == 1, clip);
        return new OnnxLstmNode(node, layer, (int)layout);
    }

    private static OnnxTensor RequireConstant(string where, string label, string name, Func<string, OnnxTensor?> constant)
    {
        if (name.Length == 0) throw new ModelFormatException($"{where}: input {label} is missing");
        return constant(name) ?? throw new ModelFormatException(
            $"{where}: input {label} '{name}' is not a constant (initializer or Constant node); weights computed at run time are not supported");
    }

    private static void ExpectShape(string where, string label, OnnxTensor t, long[] expected)
    {
        if (!t.Dims.SequenceEqual(expected)) throw Shape(where, label, t, "[" + string.Join(",", expected) + "]");
    }

    private static ModelFormatException Shape(string where, string label, OnnxTensor t, string expected) =>
        new($"{where}: {label} '{t.Name}' has shape {t.ShapeText}, expected {expected}");

    private static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}
