namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>
/// Converts one forward direction of ONNX LSTM weights (W <c>[4H × In]</c>, R <c>[4H × H]</c>, B
/// <c>[8H]</c> = Wb | Rb, P <c>[3H]</c>; gate blocks ordered i, o, f, c and peepholes i, o, f) to and from
/// the internal <see cref="LstmLayer"/> layout (Kernel <c>[(In + H) × 4H]</c>, gate blocks i, j, f, o).
/// <para>
/// <c>input_forget</c>: ONNX Runtime couples the gates as <c>f = 1 − i</c> (the input gate is computed,
/// the forget gate's weights are unused), while <see cref="LstmLayer.InputForget"/> means <c>i = 1 − f</c>.
/// Since <c>1 − σ(x) = σ(−x)</c> and the clip is symmetric, the ONNX input-gate weights, bias and peephole
/// negated become the internal forget gate exactly. The writer applies the inverse and also keeps the
/// internal forget gate in the ONNX forget block, so the exported graph gives the same result whether a
/// runtime couples f = 1 − i (ONNX Runtime), couples i = 1 − f, or ignores input_forget.
/// </para>
/// </summary>
internal static class OnnxLstmWeightLayout
{
    /// <summary>For each internal gate block (i, j, f, o), the ONNX gate block (i, o, f, c) it comes from.</summary>
    private static readonly int[] OnnxBlockOfInternal = [0, 3, 2, 1];

    private const int InternalInput = 0;
    private const int InternalForget = 2;
    private const int OnnxInput = 0;
    private const int OnnxForget = 2;

    /// <summary>The internal layer for ONNX weights. <paramref name="b"/> and <paramref name="p"/> may be null.</summary>
    public static LstmLayer ToInternal(int inputSize, int hidden, float[] w, float[] r, float[]? b, float[]? p,
        bool inputForget, float? gateClip)
    {
        int gw = 4 * hidden, concat = inputSize + hidden;
        if (w.Length != gw * inputSize) throw new ArgumentException($"W has {w.Length} values, expected {gw} × {inputSize}", nameof(w));
        if (r.Length != gw * hidden) throw new ArgumentException($"R has {r.Length} values, expected {gw} × {hidden}", nameof(r));
        if (b is not null && b.Length != 2 * gw) throw new ArgumentException($"B has {b.Length} values, expected {2 * gw}", nameof(b));
        if (p is not null && p.Length != 3 * hidden) throw new ArgumentException($"P has {p.Length} values, expected {3 * hidden}", nameof(p));

        var kernel = new float[concat * gw];
        var bias = new float[gw];
        for (var g = 0; g < 4; g++)
        {
            // Under input_forget the internal forget gate is the ONNX input gate, negated.
            bool negate = inputForget && g == InternalForget;
            int og = negate ? OnnxInput : OnnxBlockOfInternal[g];
            float sign = negate ? -1f : 1f;
            for (var u = 0; u < hidden; u++)
            {
                int onnxRow = og * hidden + u, col = g * hidden + u;
                for (var k = 0; k < inputSize; k++) kernel[k * gw + col] = sign * w[onnxRow * inputSize + k];
                for (var k = 0; k < hidden; k++) kernel[(inputSize + k) * gw + col] = sign * r[onnxRow * hidden + k];
                if (b is not null) bias[col] = sign * (b[onnxRow] + b[gw + onnxRow]);
            }
        }

        float[]? pi = null, pf = null, po = null;
        if (p is not null)
        {
            pi = p.AsSpan(0, hidden).ToArray();
            po = p.AsSpan(hidden, hidden).ToArray();
            pf = inputForget ? pi.Select(v => -v).ToArray() : p.AsSpan(2 * hidden, hidden).ToArray();
        }

        return new LstmLayer(inputSize, hidden, kernel, bias, pi, pf, po, cellClip: null, gateClip: gateClip, inputForget: inputForget);
    }

    /// <summary>
    /// ONNX weights for an internal layer: W <c>[4H × In]</c>, R <c>[4H × H]</c>, B <c>[8H]</c> (all of the
    /// bias in Wb, Rb zero), P <c>[3H]</c> or null. The layer must have no projection and no cell clip.
    /// </summary>
    public static (float[] W, float[] R, float[] B, float[]? P) FromInternal(LstmLayer layer)
    {
        if (layer.HasProjection) throw new ArgumentException("a layer with a projection has no ONNX LSTM form", nameof(layer));
        if (layer.CellClip is not null) throw new ArgumentException("a layer with a cell clip has no ONNX LSTM form", nameof(layer));
        int inputSize = layer.InputSize, hidden = layer.CellSize, gw = 4 * hidden;
        var w = new float[gw * inputSize];
        var r = new float[gw * hidden];
        var b = new float[2 * gw];
        var kernel = layer.Kernel;
        for (var og = 0; og < 4; og++)
        {
            // Under input_forget the ONNX input gate is the internal forget gate, negated; the ONNX
            // forget gate is unused by the operator and carries the internal forget gate unchanged.
            bool negate = layer.InputForget && og == OnnxInput;
            int g = negate || (layer.InputForget && og == OnnxForget) ? InternalForget : Array.IndexOf(OnnxBlockOfInternal, og);
            float sign = negate ? -1f : 1f;
            for (var u = 0; u < hidden; u++)
            {
                int onnxRow = og * hidden + u, col = g * hidden + u;
                for (var k = 0; k < inputSize; k++) w[onnxRow * inputSize + k] = sign * kernel[k * gw + col];
                for (var k = 0; k < hidden; k++) r[onnxRow * hidden + k] = sign * kernel[(inputSize + k) * gw + col];
                b[onnxRow] = sign * layer.Bias[col];
            }
        }

        float[]? p = null;
        if (layer.HasPeepholes)
        {
            p = new float[3 * hidden];
            var input = layer.InputForget ? layer.PeepholeForget!.Select(v => -v).ToArray() : layer.PeepholeInput!;
            input.CopyTo(p, 0);
            layer.PeepholeOutput!.CopyTo(p, hidden);
            layer.PeepholeForget!.CopyTo(p, 2 * hidden);
        }

        return (w, r, b, p);
    }
}
