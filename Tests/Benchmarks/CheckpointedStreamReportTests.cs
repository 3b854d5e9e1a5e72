using LstmStream.Benchmarks;

namespace LstmStream.Tests.Benchmarks;

public sealed class CheckpointedStreamReportTests
{
    private static readonly CheckpointedStream.TimedFigures Without = new(2_000_000, 20, 7_813, 0, 0, 0, 3, 0, 1_000_000);

    private static CheckpointedStream.Result Row(int keys, double with, long checkpoints, long bytes, params double[] seconds) =>
        new("Sqlite", "sensor", keys, CheckpointedStream.BatchRows, 5, 20, 100_000, with, checkpoints, checkpoints * keys, seconds, bytes, 3000, 3100, 2048,
            Without, new CheckpointedStream.TimedFigures(1_900_000, 20.5, 7_600, 12, 8, 3, 0.05, 0.3, 301_000_000));

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
    public void The_cost_per_checkpoint_leaves_the_compile_time_out_and_counts_only_what_the_steps_do_not_explain()
    {
        var row = Row(10_000, 95_000, 2, 40_000_000, 1.2, 1.4);

        // Without: (20 - 3) s of CPU for 2,000,000 steps = 8.5 µs a step; with: 20.5 - 0.05 s, of which 1,900,000 × 8.5 µs = 16.15 s are steps.
        Assert.Equal((20.45 - 16.15) * 1e3 / 2, row.ExtraCpuMillisecondsPerCheckpoint, 6);
        Assert.Equal((301_000_000 - 950_000) / 1e6 / 2, row.ExtraAllocatedMegabytesPerCheckpoint, 6);
        Assert.Equal(150, row.ExtraGcPauseMillisecondsPerCheckpoint, 6);
        Assert.Equal(1_900_000.0 / 7_600, row.With.RowsPerBatch, 6);
        Assert.True(double.IsNaN(Row(100_000, 99_000, 0, 0).ExtraCpuMillisecondsPerCheckpoint));
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
        Assert.Contains("2150 ms more CPU, 150 MB more allocated, 150 ms more GC pause per checkpoint; 250 vs 256 rows per multiply; GC gen0/1/2 12/8/3 vs 0/0/0", lines[0]);
    }
}
