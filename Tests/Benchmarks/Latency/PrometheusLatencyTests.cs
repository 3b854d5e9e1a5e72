using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>The server's latency histogram as the latency benchmark reads it from /metrics.</summary>
public sealed class PrometheusLatencyTests
{
    private static string Scrape(params (string Le, long Tcp, long Mqtt)[] buckets) =>
        "# TYPE lstmstream_record_latency_seconds histogram\n" +
        string.Concat(buckets.Select(b =>
            $"lstmstream_record_latency_seconds_bucket{{channel=\"tcp\",le=\"{b.Le}\"}} {b.Tcp} 1765000000000\n" +
            $"lstmstream_record_latency_seconds_bucket{{channel=\"mqtt\",le=\"{b.Le}\"}} {b.Mqtt}\n")) +
        "lstmstream_record_latency_seconds_count{channel=\"tcp\"} 0\n";

    [Fact]
    public void Quantiles_of_what_happened_between_two_scrapes_are_interpolated_within_buckets_of_the_channel()
    {
        var before = PrometheusLatency.Parse(Scrape(("0.0001", 10, 0), ("0.0002", 10, 0), ("0.0004", 10, 0), ("+Inf", 10, 0)), "tcp");
        // Since then: 50 records up to 100 µs, 40 in (100, 200] µs, 10 in (200, 400] µs; mqtt counts are not tcp's.
        var after = PrometheusLatency.Parse(Scrape(("0.0001", 60, 7), ("0.0002", 100, 7), ("0.0004", 110, 7), ("+Inf", 110, 7)), "tcp");

        var summary = after.Minus(before).Summary();

        Assert.Equal(100, summary.Count);
        Assert.Equal(100, summary.P50, 6); // rank 50 is the top of the first bucket
        Assert.Equal(380, summary.P99, 6); // rank 99: 9 of the last bucket's 10, 90 % of the way from 200 µs to 400 µs
        Assert.Equal(398, summary.P999, 6);
    }

    [Fact]
    public void A_quantile_in_the_open_bucket_is_the_largest_finite_bound_and_nothing_recorded_is_not_a_number()
    {
        var all = PrometheusLatency.Parse(Scrape(("0.001", 1, 0), ("+Inf", 4, 0)), "tcp");

        Assert.Equal(1000, all.QuantileMicroseconds(0.99), 6);
        Assert.True(double.IsNaN(PrometheusLatency.Parse(Scrape(("0.001", 0, 0), ("+Inf", 0, 0)), "tcp").QuantileMicroseconds(0.5)));
    }
}
