using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using static LstmStream.Tests.Models.Archives.ArchiveTestData;

namespace LstmStream.Tests.Models.Archives;

/// <summary>
/// Keras LSTM equations (sigmoid recurrent activation, tanh activation), in doubles, on raw
/// <c>kernel</c> <c>[in, 4H]</c>, <c>recurrent_kernel</c> <c>[H, 4H]</c>, <c>bias</c> <c>[4H]</c> with gate columns
/// i, f, c, o; an optional Dense head (<c>kernel</c> <c>[in, K]</c>). Independent of the importer's conversion.
/// </summary>
internal sealed class KerasReferenceLstm(IReadOnlyList<(NamedTensor Kernel, NamedTensor Recurrent, NamedTensor? Bias)> layers,
    (NamedTensor Kernel, NamedTensor? Bias)? head = null, HeadActivation headActivation = HeadActivation.None)
{
    public double[][] Run(float[][] steps)
    {
        var c = layers.Select(l => new double[l.Recurrent.Shape[0]]).ToArray();
        var h = layers.Select(l => new double[l.Recurrent.Shape[0]]).ToArray();
        var outputs = new double[steps.Length][];
        for (var t = 0; t < steps.Length; t++)
        {
            var x = steps[t].Select(v => (double)v).ToArray();
            for (var k = 0; k < layers.Count; k++)
            {
                var (kernel, recurrent, bias) = layers[k];
                int units = c[k].Length, width = 4 * units;
                var z = new double[width];
                for (var col = 0; col < width; col++)
                {
                    double s = bias?.Values[col] ?? 0;
                    for (var i = 0; i < x.Length; i++) s += x[i] * kernel.Values[i * width + col];
                    for (var i = 0; i < units; i++) s += h[k][i] * recurrent.Values[i * width + col];
                    z[col] = s;
                }

                for (var u = 0; u < units; u++)
                {
                    double ig = Sigmoid(z[u]), fg = Sigmoid(z[units + u]), cc = Math.Tanh(z[2 * units + u]), og = Sigmoid(z[3 * units + u]);
                    c[k][u] = fg * c[k][u] + ig * cc;
                    h[k][u] = og * Math.Tanh(c[k][u]);
                }

                x = (double[])h[k].Clone();
            }

            outputs[t] = head is { } d ? Dense(x, d.Kernel, d.Bias, wIsOutputMajor: false, headActivation) : x;
        }

        return outputs;
    }
}
