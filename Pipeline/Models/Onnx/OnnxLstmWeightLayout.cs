namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>
/// Converts one forward direction of ONNX LSTM weights (W <c>[4H × In]</c>, R <c>[4H × H]</c>, B
/// <c>[8H]</c> = Wb | Rb, P <c>[3H]</c>; gate blocks ordered i, o, f, c and peepholes i, o, f) to and from
/// the internal <see cref="LstmLayer"/> layout (Kernel <c>[(In + H) × 4H]</c>, gate blocks i, j, f, o).
/// <c>input_forget</c> carries over as it is: <see cref="LstmLayer.InputForget"/> couples the gates as
/// ONNX Runtime does (f = 1 − i), so the weights of every gate map one to one.
/// </summary>
internal static class OnnxLstmWeightLayout
{
    /// <summary>For each internal gate block (i, j, f, o), the ONNX gate block (i, o, f, c) it comes from.</summary>
    private static readonly int[] OnnxBlockOfInternal = [0, 3, 2, 1];

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
            int og = OnnxBlockOfInternal[g];
            for (var u = 0; u < hidden; u++)
            {
                int onnxRow = og * hidden + u, col = g * hidden + u;
                for (var k = 0; k < inputSize; k++) kernel[k * gw + col] = w[onnxRow * inputSize + k];
                for (var k = 0; k < hidden; k++) kernel[(inputSize + k) * gw + col] = r[onnxRow * hidden + k];
                if (b is not null) bias[col] = b[onnxRow] + b[gw + onnxRow];
            }
        }

        float[]? pi = null, pf = null, po = null;
        if (p is not null)
        {
            pi = p.AsSpan(0, hidden).ToArray();
            po = p.AsSpan(hidden, hidden).ToArray();
            pf = p.AsSpan(2 * hidden, hidden).ToArray();
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
            int g = Array.IndexOf(OnnxBlockOfInternal, og);
            for (var u = 0; u < hidden; u++)
            {
                int onnxRow = og * hidden + u, col = g * hidden + u;
                for (var k = 0; k < inputSize; k++) w[onnxRow * inputSize + k] = kernel[k * gw + col];
                for (var k = 0; k < hidden; k++) r[onnxRow * hidden + k] = kernel[(inputSize + k) * gw + col];
                b[onnxRow] = layer.Bias[col];
            }
        }

        float[]? p = null;
        if (layer.HasPeepholes)
        {
            p = new float[3 * hidden];
            layer.PeepholeInput!.CopyTo(p, 0);
            layer.PeepholeOutput!.CopyTo(p, hidden);
            layer.PeepholeForget!.CopyTo(p, 2 * hidden);
        }

        return (w, r, b, p);
    }
}
