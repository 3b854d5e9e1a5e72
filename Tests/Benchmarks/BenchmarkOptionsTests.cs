using LstmStream.Benchmarks;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks;

public sealed class BenchmarkOptionsTests
{
    [Fact]
    public void The_latency_generators_send_gap_is_200_microseconds_unless_given()
    {
        Assert.Equal(TimeSpan.FromMicroseconds(200), BenchmarkOptions.Parse(["--latency"]).SendGap);
        Assert.Equal(OpenLoopSender.DefaultMinimumGap, BenchmarkOptions.Parse(["--latency"]).SendGap);
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
}
