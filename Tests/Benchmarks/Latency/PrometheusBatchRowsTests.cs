using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>The server's batch-size histogram as the latency benchmark reads it from /metrics.</summary>
public sealed class PrometheusBatchRowsTests
{
    private static string Scrape(double sum, long count) =>
        "# TYPE lstmstream_batch_rows histogram\n" +
        $"lstmstream_batch_rows_bucket{{le=\"1\"}} {count / 2}\n" +
        $"lstmstream_batch_rows_sum {sum.ToString(System.Globalization.CultureInfo.InvariantCulture)} 1765000000000\n" +
        $"lstmstream_batch_rows_count {count}\n" +
        "lstmstream_steps_total 999\n";

    [Fact]
    public void The_mean_rows_per_batch_between_two_scrapes_is_their_difference_of_sums_over_counts()
    {
        var before = PrometheusBatchRows.Parse(Scrape(100, 10));
        var after = PrometheusBatchRows.Parse(Scrape(1100.5, 50));

        Assert.Equal(1000.5 / 40, after.MeanSince(before)!.Value, 9);
        Assert.Null(before.MeanSince(before));
    }
}
