using Akka.Actor;
using Akka.TestKit.Xunit2;
using LstmStream.Hosting.Service;

namespace LstmStream.Tests.Service;

public sealed class RoutedRowsTests : TestKit
{
    [Fact]
    public void Rows_that_entered_directly_come_out_with_their_own_tags_and_the_direct_origin()
    {
        var rows = new RoutedRows();
        var origin = CreateTestProbe().Ref;
        var routedTags = new long[1];
        rows.Admit(origin, 3, [5L << 32 | 9], routedTags);
        long[] tags = [7L << 32 | 1, 7L << 32 | 2];

        rows.AdmitDirect([3, 4], tags);

        Assert.All(tags, t => Assert.True(RoutedRows.IsRouted(t)));
        Assert.Equal((RoutedRows.Direct, 7L << 32 | 2), rows.Take(tags[1]));
        Assert.Equal((RoutedRows.Direct, 7L << 32 | 1), rows.Take(tags[0]));
        var (index, tag) = rows.Take(routedTags[0]);
        Assert.NotEqual(RoutedRows.Direct, index);
        Assert.Equal(origin, rows.Origin(index));
        Assert.Equal(5L << 32 | 9, tag);
        Assert.Equal(0, rows.InFlight);
    }

    [Fact]
    public async Task A_bucket_handed_off_while_direct_rows_of_it_are_in_flight_is_drained_only_once_they_came_out()
    {
        var rows = new RoutedRows();
        var origin = CreateTestProbe().Ref;
        long[] direct = [1L << 32 | 1, 1L << 32 | 2, 1L << 32 | 3];
        rows.AdmitDirect([2, 2, 6], direct);
        var routed = new long[1];
        rows.Admit(origin, 2, [4L << 32 | 1], routed);

        var drained = rows.WhenDrained(2);
        Assert.True(rows.WhenDrained(1).IsCompleted);

        rows.Take(routed[0]);
        rows.Take(direct[2]);
        rows.Take(direct[0]);
        Assert.False(drained.IsCompleted);
        rows.Take(direct[1]);
        await drained.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(rows.WhenDrained(6).IsCompleted);
    }
}
