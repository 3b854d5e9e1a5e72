using LstmStream.Hosting.Cli;
using LstmStream.Pipeline.Numerics.Selection;
using Xunit.Abstractions;

namespace LstmStream.Tests.Golden;

/// <summary>Every case of <c>shared/golden</c> reproduced through the <c>run</c> verb.</summary>
public sealed class GoldenRunTests(ITestOutputHelper output)
{
    /// <summary>
    /// Every case with every matrix-multiply backend present on this machine (or required by
    /// <c>LSTMSTREAM_REQUIRE_NATIVE</c>, so a missing one fails) at one thread, and the tuned choice and the managed
    /// kernel also at two (the fused layer step split over worker threads).
    /// </summary>
    public static TheoryData<string, string, int> Cases()
    {
        var backends = MatMulBackendRegistry.ProbeAll().Where(b => b.IsAvailable || Numerics.Native.NativeBackendRequirement.IsRequired(b.Name))
            .Select(b => b.Name).Append(MatMulBackendRegistry.Auto).ToArray();
        var data = new TheoryData<string, string, int>();
        foreach (var name in GoldenCase.All())
        {
            foreach (var backend in backends) data.Add(name, backend, 1);
            data.Add(name, MatMulBackendRegistry.Managed, 2);
            data.Add(name, MatMulBackendRegistry.Auto, 2);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Run_reproduces_the_reference_outputs(string name, string backend, int threads)
    {
        var golden = GoldenCase.Load(name);
        var actualPath = Path.Combine(Path.GetTempPath(), $"lstmstream-golden-{name}-{backend}-{threads}-{Guid.NewGuid():N}.ndjson");
        try
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var exit = await CliApplication.InvokeAsync(
                ["run", "--model", golden.Model, "--input", golden.Input, "--output", actualPath, "--backend", backend, "--threads", $"{threads}", "--quiet"], stdout, stderr);
            Assert.True(exit == 0, $"run exited {exit}: {stderr}");
            Assert.Equal("", stderr.ToString());

            var actual = await File.ReadAllTextAsync(actualPath);
            var result = OutputComparison.Compare(await File.ReadAllTextAsync(golden.Expected), actual,
                golden.AbsoluteTolerance, golden.RelativeTolerance);
            output.WriteLine($"{name} on {backend}, {threads} thread(s): {result.Compared} records, max abs error {result.MaxAbsoluteError:E2}");
            Assert.Equal(golden.Steps, result.Compared);
            Assert.Equal(0, result.Missing);
            Assert.Equal(0, result.Unexpected);
            Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures));
            Assert.Equal(SeqOrderPerKey(await File.ReadAllTextAsync(golden.Input)), SeqOrderPerKey(actual));
        }
        finally
        {
            File.Delete(actualPath);
        }
    }

    /// <summary>Each key's seq values in the order its lines appear: the output must keep the input's order per key.</summary>
    private static SortedDictionary<string, List<long>> SeqOrderPerKey(string ndjson)
    {
        var order = new SortedDictionary<string, List<long>>(StringComparer.Ordinal);
        foreach (var line in ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            var key = doc.RootElement.GetProperty("key").GetString()!;
            if (!order.TryGetValue(key, out var list)) order[key] = list = [];
            list.Add(doc.RootElement.GetProperty("seq").GetInt64());
        }

        return order;
    }
}
