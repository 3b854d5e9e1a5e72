using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

/// <summary>
/// An independent, scalar, double-precision statement of the layer formulas (TensorFlow 1 LSTMCell:
/// peepholes on c_prev for i, f and on the new c for o, cell_clip, projection with proj_clip; ONNX
/// Runtime's clip on every gate's full activation input and input_forget as f = 1 − i), used as the
/// reference the float kernels are checked against.
/// </summary>
internal static class ReferenceLstmCell
{
    /// <summary>One step of one row: returns (h, c) from x, h_prev, c_prev.</summary>
    public static (double[] H, double[] C) Step(LstmLayer layer, double[] x, double[] hPrev, double[] cPrev)
    {
        int n = layer.CellSize, inputs = layer.InputSize, outs = layer.OutputSize, gw = 4 * n;
        var z = new double[gw];
        for (var col = 0; col < gw; col++)
        {
            double s = layer.Bias[col];
            for (var r = 0; r < inputs; r++) s += x[r] * layer.Kernel[r * gw + col];
            for (var r = 0; r < outs; r++) s += hPrev[r] * layer.Kernel[(inputs + r) * gw + col];
            z[col] = s;
        }

        double Clip(double v) => layer.GateClip is { } g ? Math.Clamp(v, -(double)g, g) : v;
        var c = new double[n];
        var m = new double[n];
        for (var u = 0; u < n; u++)
        {
            double zi = z[u], zj = z[n + u], zf = z[2 * n + u], zo = z[3 * n + u];
            if (layer.HasPeepholes)
            {
                zi += layer.PeepholeInput![u] * cPrev[u];
                zf += layer.PeepholeForget![u] * cPrev[u];
            }

            double i = Sigmoid(Clip(zi));
            double f = layer.InputForget ? 1 - i : Sigmoid(Clip(zf));
            double cNew = f * cPrev[u] + i * Math.Tanh(Clip(zj));
            if (layer.CellClip is { } cc) cNew = Math.Clamp(cNew, -(double)cc, cc);
            if (layer.HasPeepholes) zo += layer.PeepholeOutput![u] * cNew;
            double o = Sigmoid(Clip(zo));
            c[u] = cNew;
            m[u] = o * Math.Tanh(cNew);
        }

        if (layer.Projection is not { } proj) return (m, c);
        var h = new double[outs];
        for (var p = 0; p < outs; p++)
        {
            double s = 0;
            for (var u = 0; u < n; u++) s += m[u] * proj[u * outs + p];
            h[p] = layer.ProjectionClip is { } pc ? Math.Clamp(s, -(double)pc, pc) : s;
        }

        return (h, c);
    }

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>A random layer; weights uniform in ±scale/√(inputs + outputs) so gate inputs stay in a useful range.</summary>
    public static LstmLayer RandomLayer(Random rng, int inputSize, int cellSize, bool peepholes = false, float? cellClip = null,
        float? gateClip = null, bool inputForget = false, int projectionSize = 0, float? projectionClip = null, float scale = 2f)
    {
        int outs = projectionSize > 0 ? projectionSize : cellSize;
        float w = scale / MathF.Sqrt(inputSize + outs);
        float[] Values(int count, float range)
        {
            var v = new float[count];
            for (var i = 0; i < count; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * range;
            return v;
        }

        return new LstmLayer(
            inputSize, cellSize,
            Values((inputSize + outs) * 4 * cellSize, w),
            Values(4 * cellSize, 1f),
            peepholes ? Values(cellSize, 1f) : null,
            peepholes ? Values(cellSize, 1f) : null,
            peepholes ? Values(cellSize, 1f) : null,
            cellClip, gateClip, inputForget,
            projectionSize > 0 ? Values(cellSize * projectionSize, 2f / MathF.Sqrt(cellSize)) : null,
            projectionSize, projectionClip);
    }

    /// <summary>One <see cref="LstmLayerKernel.Step(int, ReadOnlySpan{float}, Span{float}, Span{float})"/> of a new kernel on <paramref name="backend"/> from a copy of <paramref name="c0"/>: (h, c).</summary>
    public static (float[] H, float[] C) StepFromCopy(LstmLayer layer, IMatMulBackend backend, int rows, float[] xh, float[] c0)
    {
        var c = (float[])c0.Clone();
        var h = new float[rows * layer.OutputSize];
        new LstmLayerKernel(layer, backend).Step(rows, xh, c, h);
        return (h, c);
    }

    public static float[] RandomValues(Random rng, int count, float range = 1f)
    {
        var v = new float[count];
        for (var i = 0; i < count; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * range;
        return v;
    }
}
