using LstmStream.Hosting.Operations;
using Microsoft.Extensions.Time.Testing;

namespace LstmStream.Tests.Operations;

public sealed class LogBudgetTests
{
    [Fact]
    public void At_most_the_budget_is_written_per_interval_and_the_next_line_written_says_how_many_were_held_back()
    {
        var time = new FakeTimeProvider();
        var budget = new LogBudget(time, linesPerInterval: 3, interval: TimeSpan.FromMinutes(1));

        for (var i = 0; i < 3; i++)
        {
            Assert.True(budget.TryWrite(out var none));
            Assert.Equal(0, none);
        }

        for (var i = 0; i < 5; i++) Assert.False(budget.TryWrite(out _));
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.False(budget.TryWrite(out _));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(budget.TryWrite(out var heldBack));
        Assert.Equal(6, heldBack);
        Assert.True(budget.TryWrite(out heldBack));
        Assert.Equal(0, heldBack);
    }

    [Fact]
    public void A_budget_needs_at_least_one_line_and_a_positive_interval()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogBudget(linesPerInterval: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogBudget(interval: TimeSpan.Zero));
    }
}
