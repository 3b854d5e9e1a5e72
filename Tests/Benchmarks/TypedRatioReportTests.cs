using LstmStream.Benchmarks;

namespace LstmStream.Tests.Benchmarks;

public sealed class TypedRatioReportTests
{
    private static ResultRow Row(string engine, int keys, double stepsPerSecond, double[]? passes = null) => new()
    {
        Workload = "seed", Keys = keys, Engine = engine, Backend = "managed", Threads = 1, StepsPerSecond = stepsPerSecond, Gflops = 0,
        AllocatedBytesPerStep = 0, StepsTimed = 1, PassStepsPerSecond = passes,
        PassCpuNanosecondsPerStep = passes?.Select(p => 1e9 / p).ToArray(), RowsPerMicroBatch = passes is null ? null : keys,
    };

    private static string[] TypedLines(params ResultRow[] rows)
    {
        var report = new Report
        {
            Machine = MachineInfo.Read(), Options = BenchmarkOptions.Parse([]), Runs = [], Memory = [], Stores = [], Failures = [], CeilingMatrices = [],
            Rows = [.. rows],
        };
        return report.Markdown().Split('\n').Where(l => l.StartsWith("typed API", StringComparison.Ordinal)).ToArray();
    }

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
            "typed API, batches (lstmstream-typed-batched ÷ lstmstream-stream, seed, 1024 keys, 1 thread(s)): 90.5 % of the fast path's steps/s (fastest pass each; fastest 905,000 vs 1,000,000): within the 10 % bound;",
            StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("typed API (lstmstream-typed ÷ lstmstream-stream, seed, 1024 keys, 1 thread(s)): 85.0 %", StringComparison.Ordinal) && l.Contains(": NOT within the 10 % bound;"));
        Assert.Contains(lines, l => l.Contains("4096 keys, 1 thread(s)): 89.5 %", StringComparison.Ordinal) && l.Contains(": NOT within the 10 % bound;"));
    }

    [Fact]
    public void The_ratio_judged_is_the_median_of_the_typed_and_stream_figures_of_the_same_pass_not_of_each_sides_fastest_pass()
    {
        // Fastest passes: 1,000,000 ÷ 1,050,000 = 95.2 %; per pass 95.2 %, 80 %, 88.9 %: the median, 88.9 %, fails the bound.
        var lines = TypedLines(
            Row(Engines.Stream, 64, 1_050_000, [1_050_000, 1_000_000, 900_000]),
            Row(Engines.TypedBatched, 64, 1_000_000, [1_000_000, 800_000, 800_000]));

        var line = Assert.Single(lines);
        Assert.Contains("seed, 64 keys, 1 thread(s)): 88.9 % of the fast path's steps/s (median of 3 paired passes; fastest 1,000,000 vs 1,050,000", line);
        Assert.Contains("; 64 vs 64 rows per micro-batch", line);
        Assert.EndsWith(": NOT within the 10 % bound; 0 vs 0 B/step allocated.", line.TrimEnd());
    }

    [Fact]
    public void With_an_even_number_of_passes_the_lower_of_the_two_middle_ratios_is_judged()
    {
        var lines = TypedLines(
            Row(Engines.Stream, 64, 1_000_000, [1_000_000, 1_000_000]),
            Row(Engines.TypedBatched, 64, 950_000, [950_000, 890_000]));

        var line = Assert.Single(lines);
        Assert.Contains("): 89.0 % of the fast path's steps/s (median of 2 paired passes;", line);
        Assert.Contains(": NOT within the 10 % bound;", line);
    }

    [Fact]
    public void The_report_states_the_rule_its_typed_ratios_follow()
    {
        var report = new Report
        {
            Machine = MachineInfo.Read(), Options = BenchmarkOptions.Parse([]), Runs = [], Memory = [], Stores = [], Failures = [], CeilingMatrices = [],
            Rows = [Row(Engines.Stream, 64, 1_000_000, [1_000_000]), Row(Engines.Typed, 64, 950_000, [950_000])],
        };

        var markdown = report.Markdown();

        Assert.Contains("Typed ratios: the typed flow and the fast path run on the same backend instances", markdown);
        Assert.Contains("the ratio judged is the median over the passes of typed ÷ stream steps/s of the same pass", markdown);
    }

    [Fact]
    public void Rows_whose_passes_measured_no_processor_time_are_written_to_json_without_it()
    {
        // The ceiling's passes time the wall clock only (CPU NaN): the whole report once failed to write its JSON for it.
        var ceiling = Row(Engines.Ceiling, 64, 1000) with { PassStepsPerSecond = [900, 1000], PassCpuNanosecondsPerStep = ResultRow.CpuPerPass([double.NaN, double.NaN]) };
        var stream = Row(Engines.Stream, 64, 800, [700, 800]) with { PassCpuNanosecondsPerStep = ResultRow.CpuPerPass([2e-6, 1e-6]) };
        var report = new Report
        {
            Machine = MachineInfo.Read(), Options = BenchmarkOptions.Parse([]), Runs = [], Memory = [], Stores = [], Failures = [], CeilingMatrices = [],
            Rows = [ceiling, stream],
        };
        var path = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
        try
        {
            report.WriteJson(path);
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToArray();
            Assert.False(rows[0].TryGetProperty("pass_cpu_ns_per_step", out _));
            Assert.Equal([2000.0, 1000.0], rows[1].GetProperty("pass_cpu_ns_per_step").EnumerateArray().Select(v => v.GetDouble()));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
