using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using static LstmStream.Tests.Models.Archives.ArchiveTestData;

namespace LstmStream.Tests.Models.Archives;

/// <summary>
/// PyTorch's nn.LSTM equations, in doubles, straight on a state dict's raw arrays (gate rows i, f, g, o;
/// two biases; proj_size), with an optional nn.Linear head. Independent of the importer's conversion.
/// </summary>
internal sealed class PyTorchReferenceLstm(IReadOnlyDictionary<string, NamedTensor> stateDict, string prefix, int layers,
    string? headPrefix = null, HeadActivation headActivation = HeadActivation.None)
{
    public double[][] Run(float[][] steps)
    {
        var c = new double[layers][];
        var h = new double[layers][];
        for (var k = 0; k < layers; k++)
        {
            var wih = stateDict[$"{prefix}weight_ih_l{k}"];
            c[k] = new double[wih.Shape[0] / 4];
            h[k] = new double[stateDict[$"{prefix}weight_hh_l{k}"].Shape[1]];
        }

        var outputs = new double[steps.Length][];
        for (var t = 0; t < steps.Length; t++)
        {
            var x = steps[t].Select(v => (double)v).ToArray();
            for (var k = 0; k < layers; k++)
            {
                x = Step(k, x, c[k], h[k]);
            }

            outputs[t] = headPrefix is null
                ? x
                : Dense(x, stateDict[headPrefix + "weight"], stateDict.GetValueOrDefault(headPrefix + "bias"), wIsOutputMajor: true, headActivation);
        }

        return outputs;
    }

    private double[] Step(int k, double[] x, double[] c, double[] h)
    {
        var wih = stateDict[$"{prefix}weight_ih_l{k}"];
        var whh = stateDict[$"{prefix}weight_hh_l{k}"];
        stateDict.TryGetValue($"{prefix}bias_ih_l{k}", out var bih);
        stateDict.TryGetValue($"{prefix}bias_hh_l{k}", out var bhh);
        stateDict.TryGetValue($"{prefix}weight_hr_l{k}", out var whr);
        int hidden = c.Length, input = x.Length, recurrent = h.Length;
        var gates = new double[4 * hidden];
        for (var r = 0; r < 4 * hidden; r++)
        {
            double s = (bih?.Values[r] ?? 0) + (bhh?.Values[r] ?? 0);
            for (var i = 0; i < input; i++) s += wih.Values[r * input + i] * x[i];
            for (var i = 0; i < recurrent; i++) s += whh.Values[r * recurrent + i] * h[i];
            gates[r] = s;
        }

        var m = new double[hidden];
        for (var u = 0; u < hidden; u++)
        {
            double i = Sigmoid(gates[u]), f = Sigmoid(gates[hidden + u]), g = Math.Tanh(gates[2 * hidden + u]), o = Sigmoid(gates[3 * hidden + u]);
            c[u] = f * c[u] + i * g;
            m[u] = o * Math.Tanh(c[u]);
        }

        if (whr is null)
        {
            m.CopyTo(h, 0);
        }
        else
        {
            for (var p = 0; p < recurrent; p++)
            {
                double s = 0;
                for (var u = 0; u < hidden; u++) s += whr.Values[p * hidden + u] * m[u];
                h[p] = s;
            }
        }

        return (double[])h.Clone();
    }
}
