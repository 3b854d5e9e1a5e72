using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Service;
using LstmStream.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LstmStream.Tests.Service;

public sealed class StatisticsLoggerTests
{
    [Fact]
    public async Task Each_interval_logs_one_line_with_the_step_rate_since_the_previous_line()
    {
        var clock = new FakeTimeProvider();
        var logger = new ListLogger();
        long steps = 0;
        var load = new FixedLoad(3, 17);
        await using var statistics = new StatisticsLogger(TimeSpan.FromSeconds(10), () => steps, () => 5, load, clock, logger);

        steps = 1000;
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(logger.Lines);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("statistics: 1000 steps (100/s), 5 live keys, 3 channels, 17 records in flight", Assert.Single(logger.Lines).Message);

        steps = 1500;
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(2, logger.Lines.Count);
        Assert.Equal("statistics: 1500 steps (50/s), 5 live keys, 3 channels, 17 records in flight", logger.Lines[1].Message);
    }

    [Fact]
    public async Task No_line_is_logged_after_it_is_disposed()
    {
        var clock = new FakeTimeProvider();
        var logger = new ListLogger();
        var statistics = new StatisticsLogger(TimeSpan.FromSeconds(1), () => 0, () => 0, new FixedLoad(0, 0), clock, logger);

        await statistics.DisposeAsync();
        clock.Advance(TimeSpan.FromSeconds(5));

        Assert.Empty(logger.Lines);
    }

    private sealed record FixedLoad(int Channels, long RecordsInFlight) : IChannelLoad;
}
