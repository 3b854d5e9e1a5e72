using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Models.Archives;

/// <summary>Random tensors with fixed seeds, archive files in a temp folder, and the model-vs-reference comparison.</summary>
internal static class ArchiveTestData
{
    public static NamedTensor Random(Random rng, string name, float scale, params int[] shape)
    {
        var values = new float[(int)NamedTensor.ElementCount(shape)];
        for (var i = 0; i < values.Length; i++) values[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return new NamedTensor(name, shape, values);
    }

    /// <summary>A folder for the archive files these tests write, under the test assembly's output folder.</summary>
    public static string TempFolder
    {
        get
        {
            var dir = Path.Combine(AppContext.BaseDirectory, "archive-tests");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    /// <summary>Writes the tensors as <paramref name="format"/> ("safetensors", "npz" or "npz-compressed") to a new temp file.</summary>
    public static string WriteArchive(IEnumerable<NamedTensor> tensors, string format)
    {
        var path = Path.Combine(TempFolder, $"{Guid.NewGuid():N}.{(format == "safetensors" ? "safetensors" : "npz")}");
        if (format == "safetensors") SafetensorsWriter.Write(path, tensors);
        else NpzWriter.Write(path, tensors, compressed: format == "npz-compressed");
        return path;
    }

    public static LstmModel Load(IEnumerable<NamedTensor> tensors, string format, ModelLoadOptions? options = null)
    {
        var path = WriteArchive(tensors, format);
        try
        {
            return ModelLoader.Load(path, options);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// Runs random sequences of different lengths (batch 4, up to 9 steps) through <see cref="StackedLstm"/> on
    /// <paramref name="model"/> and, row by row, through <paramref name="reference"/> (steps in, outputs per step out),
    /// and checks every output element.
    /// </summary>
    public static void AssertMatchesReference(LstmModel model, Func<float[][], double[][]> reference, int seed)
    {
        var rng = new Random(seed);
        const int batch = 4, time = 9;
        int[] lengths = [9, 5, 1, 7];
        int input = model.InputSize;
        var inputs = new float[batch * time * input];
        for (var i = 0; i < inputs.Length; i++) inputs[i] = (float)(rng.NextDouble() * 4 - 2);
        var output = new StackedLstm(model, new ManagedMatMul()).Run(inputs, batch, time, lengths);
        Assert.Equal(model.OutputSize, output.Width);
        for (var b = 0; b < batch; b++)
        {
            var steps = new float[lengths[b]][];
            for (var t = 0; t < lengths[b]; t++) steps[t] = inputs.AsSpan((b * time + t) * input, input).ToArray();
            var expected = reference(steps);
            Assert.Equal(lengths[b], expected.Length);
            for (var t = 0; t < lengths[b]; t++)
            {
                Assert.Equal(output.Width, expected[t].Length);
                for (var u = 0; u < output.Width; u++)
                {
                    var actual = output.Outputs[(b * time + t) * output.Width + u];
                    var want = expected[t][u];
                    Assert.True(Math.Abs(actual - want) <= 2e-5 + 1e-4 * Math.Abs(want),
                        $"row {b} step {t} unit {u}: engine {actual}, reference {want}");
                }
            }
        }
    }

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>y = act(x · W + b) on doubles, W given row-major [rows × cols]; transposed when <paramref name="wIsOutputMajor"/>.</summary>
    public static double[] Dense(double[] x, NamedTensor w, NamedTensor? b, bool wIsOutputMajor, HeadActivation activation)
    {
        int outputs = wIsOutputMajor ? w.Shape[0] : w.Shape[1];
        var y = new double[outputs];
        for (var k = 0; k < outputs; k++)
        {
            double s = b is null ? 0 : b.Values[k];
            for (var i = 0; i < x.Length; i++) s += x[i] * (wIsOutputMajor ? w.Values[k * x.Length + i] : w.Values[i * outputs + k]);
            y[k] = s;
        }

        switch (activation)
        {
            case HeadActivation.Sigmoid:
                for (var k = 0; k < outputs; k++) y[k] = Sigmoid(y[k]);
                break;
            case HeadActivation.Tanh:
                for (var k = 0; k < outputs; k++) y[k] = Math.Tanh(y[k]);
                break;
            case HeadActivation.Relu:
                for (var k = 0; k < outputs; k++) y[k] = Math.Max(0, y[k]);
                break;
            case HeadActivation.Softmax:
                var max = y.Max();
                var sum = 0.0;
                for (var k = 0; k < outputs; k++) sum += y[k] = Math.Exp(y[k] - max);
                for (var k = 0; k < outputs; k++) y[k] /= sum;
                break;
        }

        return y;
    }
}
