using LstmStream.Benchmarks;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks;

public sealed class BenchmarkOptionsTests
{
    [Fact]
    public void The_latency_generators_send_gap_is_200_microseconds_unless_given()
    {
        Assert.Equal(TimeSpan.FromMicroseconds(200), BenchmarkOptions.Parse(["--latency"]).SendGap);
        Assert.Equal(OpenLoopGenerator.DefaultGap, BenchmarkOptions.Parse(["--latency"]).SendGap);
        Assert.Equal(TimeSpan.FromMicroseconds(50), BenchmarkOptions.Parse(["--latency", "--send-gap", "50"]).SendGap);
        Assert.Equal(TimeSpan.Zero, BenchmarkOptions.Parse(["--send-gap", "0", "--latency"]).SendGap);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("fast")]
    [InlineData("2000000")]
    public void A_send_gap_that_is_not_a_number_of_microseconds_is_refused_naming_the_option(string value)
    {
        var error = Assert.Throws<ArgumentException>(() => BenchmarkOptions.Parse(["--latency", "--send-gap", value]));

        Assert.Equal($"--send-gap: '{value}' is not a number of microseconds from 0 to 1000000", error.Message);
    }

    [Fact]
    public void A_given_latency_peak_and_shares_are_taken_for_one_workload()
    {
        var options = BenchmarkOptions.Parse(["--latency", "--workload", "sensor", "--latency-peak", "52000", "--latency-shares", "10,50"]);

        Assert.Equal(52000, options.LatencyPeak);
        Assert.Equal([10, 50], options.LatencyShares);
        Assert.Equal([10, 50, 90], BenchmarkOptions.Parse(["--latency"]).LatencyShares);
        Assert.Null(BenchmarkOptions.Parse(["--latency"]).LatencyPeak);
        Assert.False(options.LatencyFloor);
        Assert.True(BenchmarkOptions.Parse(["--latency", "--workload", "sensor", "--latency-peak", "52000", "--latency-floor"]).LatencyFloor);
        Assert.False(options.LatencyLone);
        Assert.True(BenchmarkOptions.Parse(["--latency", "--workload", "seed", "--latency-peak", "52000", "--latency-lone"]).LatencyLone);
    }

    [Theory]
    [InlineData(new[] { "--latency", "--latency-peak", "52000" }, "--latency-peak is the peak of one model: give exactly one --workload (sensor or seed)")]
    [InlineData(new[] { "--latency", "--workload", "sensor", "--latency-peak", "-5" }, "--latency-peak: '-5' is not a positive number of outputs per second")]
    [InlineData(new[] { "--latency", "--latency-shares", "50,150" }, "--latency-shares: 150 is more than 100 percent")]
    [InlineData(new[] { "--latency", "--latency-floor" }, "--latency-floor measures the echo server at shares of a given peak: give --latency-peak N too")]
    [InlineData(new[] { "--latency", "--latency-lone" }, "--latency-lone adds the lone key to the share rows of a given peak: give --latency-peak N, without --latency-floor")]
    [InlineData(new[] { "--latency", "--workload", "sensor", "--latency-peak", "52000", "--latency-floor", "--latency-lone" },
        "--latency-lone adds the lone key to the share rows of a given peak: give --latency-peak N, without --latency-floor")]
    public void A_latency_peak_or_share_that_makes_no_sense_is_refused_naming_the_option(string[] args, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => BenchmarkOptions.Parse(args));

        Assert.Equal(message, error.Message);
    }
}
