using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using static LstmStream.Tests.Models.Archives.ArchiveTestData;

namespace LstmStream.Tests.Models.Archives;

/// <summary>One TensorFlow 1 cell's raw variables: kernel <c>[in + out, 4H]</c> (columns i, j, f, o), bias, optional peepholes and projection <c>[H, P]</c>.</summary>
internal sealed record Tf1CellVariables(NamedTensor Kernel, NamedTensor Bias, NamedTensor? WiDiag = null, NamedTensor? WfDiag = null,
    NamedTensor? WoDiag = null, NamedTensor? Projection = null);

/// <summary>
/// TensorFlow 1 <c>LSTMCell</c> / <c>BasicLSTMCell</c> in a <c>MultiRNNCell</c>, in doubles, as in
/// <c>rnn_cell_impl.py</c>: <c>[i, j, f, o] = [x, h] · kernel + bias</c>; with peepholes
/// <c>c = σ(f + forget_bias + w_f ⊙ c_prev) ⊙ c_prev + σ(i + w_i ⊙ c_prev) ⊙ tanh(j)</c>, cell clip, then
/// <c>m = σ(o + w_o ⊙ c) ⊙ tanh(c)</c>, <c>h = clip(m · projection)</c>. Independent of the importer.
/// </summary>
internal sealed class Tf1ReferenceLstm(IReadOnlyList<Tf1CellVariables> cells, double forgetBias, double? cellClip = null, double? projClip = null,
    (NamedTensor Kernel, NamedTensor? Bias)? head = null, HeadActivation headActivation = HeadActivation.None)
{
    public double[][] Run(float[][] steps)
    {
        var c = cells.Select(l => new double[l.Kernel.Shape[1] / 4]).ToArray();
        var h = cells.Select(l => new double[l.Projection?.Shape[1] ?? l.Kernel.Shape[1] / 4]).ToArray();
        var outputs = new double[steps.Length][];
        for (var t = 0; t < steps.Length; t++)
        {
            var x = steps[t].Select(v => (double)v).ToArray();
            for (var k = 0; k < cells.Count; k++)
            {
                var cell = cells[k];
                int units = c[k].Length, width = 4 * units;
                var xh = x.Concat(h[k]).ToArray();
                var z = new double[width];
                for (var col = 0; col < width; col++)
                {
                    double s = cell.Bias.Values[col];
                    for (var r = 0; r < xh.Length; r++) s += xh[r] * cell.Kernel.Values[r * width + col];
                    z[col] = s;
                }

                var m = new double[units];
                for (var u = 0; u < units; u++)
                {
                    double cPrev = c[k][u];
                    double i = z[u], j = z[units + u], f = z[2 * units + u], o = z[3 * units + u];
                    double wi = cell.WiDiag?.Values[u] ?? 0, wf = cell.WfDiag?.Values[u] ?? 0, wo = cell.WoDiag?.Values[u] ?? 0;
                    double cNew = Sigmoid(f + forgetBias + wf * cPrev) * cPrev + Sigmoid(i + wi * cPrev) * Math.Tanh(j);
                    if (cellClip is { } cc) cNew = Math.Clamp(cNew, -cc, cc);
                    c[k][u] = cNew;
                    m[u] = Sigmoid(o + wo * cNew) * Math.Tanh(cNew);
                }

                if (cell.Projection is { } p)
                {
                    int proj = p.Shape[1];
                    for (var q = 0; q < proj; q++)
                    {
                        double s = 0;
                        for (var u = 0; u < units; u++) s += m[u] * p.Values[u * proj + q];
                        h[k][q] = projClip is { } pc ? Math.Clamp(s, -pc, pc) : s;
                    }
                }
                else
                {
                    m.CopyTo(h[k], 0);
                }

                x = (double[])h[k].Clone();
            }

            outputs[t] = head is { } d ? Dense(x, d.Kernel, d.Bias, wIsOutputMajor: false, headActivation) : x;
        }

        return outputs;
    }
}
