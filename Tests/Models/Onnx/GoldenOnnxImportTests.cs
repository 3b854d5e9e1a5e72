using System.Text.Json;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using LstmStream.Pipeline.Numerics;
using Xunit.Abstractions;

namespace LstmStream.Tests.Models.Onnx;

/// <summary>
/// Every golden case's model.onnx imports with the structure its case.json states, and the imported
/// model, run per key over input.ndjson (reset / end honoured), reproduces expected.ndjson.
/// </summary>
public sealed class GoldenOnnxImportTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(LstmStream.Tests.Support.SharedData.Golden).Order(StringComparer.Ordinal))
        {
            if (File.Exists(Path.Combine(dir, "model.onnx"))) data.Add(Path.GetFileName(dir));
        }

        return data;
    }

    [Fact]
    public void Golden_cases_are_present() => Assert.True(((IEnumerable<object[]>)Cases()).Count() >= 9, $"expected the 9 visible golden cases in {LstmStream.Tests.Support.SharedData.Golden}");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Imports_with_the_structure_of_case_JSON(string name)
    {
        var dir = Path.Combine(LstmStream.Tests.Support.SharedData.Golden, name);
        using var caseJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "case.json")));
        var c = caseJson.RootElement;
        var model = OnnxModelImporter.Load(Path.Combine(dir, "model.onnx"));

        Assert.Equal(c.GetProperty("input_size").GetInt32(), model.InputSize);
        Assert.Equal(c.GetProperty("layers").EnumerateArray().Select(e => e.GetInt32()), model.Layers.Select(l => l.CellSize));
        bool peepholes = c.GetProperty("peepholes").GetBoolean();
        Assert.All(model.Layers, l => Assert.Equal(peepholes, l.HasPeepholes));
        Assert.All(model.Layers, l =>
        {
            Assert.False(l.HasProjection);
            Assert.Null(l.CellClip);
            Assert.Null(l.GateClip);
            Assert.False(l.InputForget);
        });
        if (!c.GetProperty("bias").GetBoolean()) Assert.All(model.Layers, l => Assert.All(l.Bias, b => Assert.Equal(0f, b)));
        else Assert.Contains(model.Layers[0].Bias, b => b != 0f);

        var head = c.GetProperty("head");
        if (head.ValueKind == JsonValueKind.Null)
        {
            Assert.Null(model.Head);
        }
        else
        {
            Assert.NotNull(model.Head);
            Assert.Equal(head.GetProperty("inputs").GetInt32(), model.Head!.InputSize);
            Assert.Equal(head.GetProperty("outputs").GetInt32(), model.Head.OutputSize);
            Assert.Equal(head.GetProperty("activation").GetString(), model.Head.Activation.ToString(), StringComparer.OrdinalIgnoreCase);
        }

        Assert.Equal(c.GetProperty("output_size").GetInt32(), model.OutputSize);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reproduces_expected_outputs(string name)
    {
        var dir = Path.Combine(LstmStream.Tests.Support.SharedData.Golden, name);
        using var caseJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "case.json")));
        var tol = caseJson.RootElement.GetProperty("tolerance");
        var model = OnnxModelImporter.Load(Path.Combine(dir, "model.onnx"));
        var lstm = new StackedLstm(model, new ManagedMatMul());

        var steps = File.ReadLines(Path.Combine(dir, "input.ndjson")).Where(l => l.Length > 0).Select(GoldenStep.Parse).ToList();
        var actual = new Dictionary<(string Key, long Seq), float[]>();

        // Per key, cut the lines into sequences (a reset starts one, an end closes one) and run each whole.
        foreach (var byKey in steps.GroupBy(s => s.Key))
        {
            var sequence = new List<GoldenStep>();
            void Flush()
            {
                if (sequence.Count == 0) return;
                var x = sequence.SelectMany(s => s.X).ToArray();
                var run = lstm.Run(x, batch: 1, time: sequence.Count);
                for (var t = 0; t < sequence.Count; t++)
                    actual[(byKey.Key, sequence[t].Seq)] = run.Outputs.AsSpan(t * run.Width, run.Width).ToArray();
                sequence.Clear();
            }

            foreach (var s in byKey)
            {
                Assert.Equal(model.InputSize, s.X.Length);
                if (s.Reset) Flush();
                sequence.Add(s);
                if (s.End) Flush();
            }

            Flush();
        }

        var tolerance = new Tolerance(tol.GetProperty("abs").GetDouble(), tol.GetProperty("rel").GetDouble());
        var expectedLines = File.ReadLines(Path.Combine(dir, "expected.ndjson")).Where(l => l.Length > 0).ToList();
        Assert.Equal(steps.Count, expectedLines.Count);
        foreach (var line in expectedLines)
        {
            using var e = JsonDocument.Parse(line);
            var key = e.RootElement.GetProperty("key").GetString()!;
            var seq = e.RootElement.GetProperty("seq").GetInt64();
            var y = e.RootElement.GetProperty("y").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.True(actual.TryGetValue((key, seq), out var got), $"{name}: no output for key {key} seq {seq}");
            Assert.Equal(y.Length, got!.Length);
            for (var i = 0; i < y.Length; i++)
            {
                var index = i;
                tolerance.Check(got[i], y[i], () => $"{name}: key {key} seq {seq} y[{index}]");
            }
        }

        output.WriteLine($"{name}: {tolerance.Compared} values, max abs error {tolerance.MaxAbsError:E3}");
        tolerance.AssertPassed(name);
    }

    private sealed record GoldenStep(string Key, long Seq, float[] X, bool Reset, bool End)
    {
        public static GoldenStep Parse(string line)
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new GoldenStep(
                r.GetProperty("key").GetString()!,
                r.GetProperty("seq").GetInt64(),
                r.GetProperty("x").EnumerateArray().Select(v => v.GetSingle()).ToArray(),
                r.TryGetProperty("reset", out var reset) && reset.GetBoolean(),
                r.TryGetProperty("end", out var end) && end.GetBoolean());
        }
    }
}
