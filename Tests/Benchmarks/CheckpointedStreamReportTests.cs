using LstmStream.Benchmarks;

namespace LstmStream.Tests.Benchmarks;

public sealed class CheckpointedStreamReportTests
{
    private static CheckpointedStream.Result Row(int keys, double with, long checkpoints, long bytes, params double[] seconds) =>
        new("Sqlite", "sensor", keys, CheckpointedStream.BatchRows, 5, 20, 100_000, with, checkpoints, checkpoints * keys, seconds, bytes, 3000, 3100, 2048);

    [Fact]
    public void The_ratio_is_judged_only_once_a_checkpoint_completed_in_the_window()
    {
        Assert.Equal("met", Row(10_000, 95_000, 2, 40_000_000, 1.2, 1.4).Verdict);
        Assert.Equal("NOT MET", Row(10_000, 85_000, 1, 20_000_000, 3.0).Verdict);
        Assert.Equal("met", Row(100_000, 80_000, 1, 200_000_000, 4.5).Verdict);
        Assert.StartsWith("NOT MET: a checkpoint was writing but none completed", Row(100_000, 99_000, 0, 150_000_000).Verdict);
        Assert.StartsWith("NOT MEASURED", Row(100_000, 99_000, 0, 0).Verdict);
    }

    [Fact]
    public void The_report_row_names_the_batch_size_and_the_checkpoints_completed_with_their_durations()
    {
        var report = new Report
        {
            Machine = MachineInfo.Read(), Options = BenchmarkOptions.Parse([]), Rows = [], Runs = [], Memory = [], Stores = [], Failures = [],
            CeilingMatrices = [], Checkpointed = [Row(10_000, 95_000, 2, 40_000_000, 1.2, 1.5), Row(100_000, 99_000, 0, 150_000_000)],
        };

        var lines = report.Markdown().Split('\n').Where(l => l.StartsWith("stream with checkpoints", StringComparison.Ordinal)).ToArray();

        Assert.Equal(2, lines.Length);
        Assert.Contains("10,000 live keys, 256-row batches, every 5 s, 20 s timed): 95,000 steps/s vs 100,000 without a store = 0.950× (target ≥ 0.9×: met); " +
                        "2 checkpoint(s) wrote 20,000 keys, 40 MB, taking 1.2 and 1.5 s;", lines[0]);
        Assert.Contains("(target ≥ 0.75×: NOT MET: a checkpoint was writing but none completed in the window, the interval was not kept); " +
                        "0 checkpoint(s) wrote 0 keys, 150 MB;", lines[1]);
    }
}
