using System.Text;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>The bytes a full connection did not take yet: kept in order, growing as needed.</summary>
public sealed class SendBacklogTests
{
    [Fact]
    public void What_is_not_consumed_stays_in_order_while_more_is_appended_past_the_first_buffer()
    {
        var backlog = new SendBacklog();
        var expected = new StringBuilder();
        var consumed = new StringBuilder();
        for (var i = 0; i < 20_000; i++)
        {
            var line = Encoding.UTF8.GetBytes($"line {i}\n");
            line.CopyTo(backlog.Room(line.Length));
            backlog.Appended(line.Length);
            expected.Append($"line {i}\n");
            if (i % 3 == 0)
            {
                var take = Math.Min(5, backlog.Count);
                consumed.Append(Encoding.UTF8.GetString(backlog.Pending[..take]));
                backlog.Consumed(take);
            }
        }

        consumed.Append(Encoding.UTF8.GetString(backlog.Pending));
        backlog.Consumed(backlog.Count);

        Assert.Equal(expected.ToString(), consumed.ToString());
        Assert.Equal(0, backlog.Count);
    }
}
