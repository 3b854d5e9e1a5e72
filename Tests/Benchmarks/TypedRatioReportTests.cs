using LstmStream.Benchmarks;

namespace LstmStream.Tests.Benchmarks;

public sealed class TypedRatioReportTests
{
    private static ResultRow Row(string engine, int keys, double stepsPerSecond) => new()
    {
        Workload = "seed", Keys = keys, Engine = engine, Backend = "managed", Threads = 1, StepsPerSecond = stepsPerSecond, Gflops = 0,
        AllocatedBytesPerStep = 0, StepsTimed = 1,
    };

    [Fact]
    public void Each_typed_row_is_judged_against_the_ten_percent_bound_of_the_fast_path_of_its_configuration()
    {
        var report = new Report
        {
            Machine = MachineInfo.Read(), Options = BenchmarkOptions.Parse([]), Runs = [], Memory = [], Stores = [], Failures = [], CeilingMatrices = [],
            Rows =
            [
                Row(Engines.Stream, 1024, 1_000_000), Row(Engines.TypedBatched, 1024, 905_000), Row(Engines.Typed, 1024, 850_000),
                Row(Engines.Stream, 4096, 2_000_000), Row(Engines.TypedBatched, 4096, 1_790_000),
            ],
        };

        var lines = report.Markdown().Split('\n').Where(l => l.StartsWith("typed API", StringComparison.Ordinal)).ToArray();

        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => l.StartsWith(
            "typed API, batches (lstmstream-typed-batched ÷ lstmstream-stream, seed, 1024 keys, 1 thread(s)): 90.5 % of the fast path's steps/s (905,000 vs 1,000,000): within the 10 % bound;",
            StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("typed API (lstmstream-typed ÷ lstmstream-stream, seed, 1024 keys, 1 thread(s)): 85.0 %", StringComparison.Ordinal) && l.Contains(": NOT within the 10 % bound;"));
        Assert.Contains(lines, l => l.Contains("4096 keys, 1 thread(s)): 89.5 %", StringComparison.Ordinal) && l.Contains(": NOT within the 10 % bound;"));
    }
}
