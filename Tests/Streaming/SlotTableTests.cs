using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Streaming;

/// <summary>The session stage's key → slot map: free-list reuse, last use, and the least-recently-used list.</summary>
public sealed class SlotTableTests
{
    [Fact]
    public void The_slot_table_tracks_keys_last_use_and_free_slots()
    {
        var table = new SlotTable();
        for (var i = 0; i < 100; i++) Assert.Equal(i, table.Add($"k{i}", 1, 10));
        var live = Assert.Throws<InvalidOperationException>(() => table.Add("k5", 2, 20));
        Assert.Contains("'k5' is already live", live.Message);

        var slot = table.Find("k5");
        Assert.Equal(5, slot);
        table.Touch(slot, 2, 20);
        Assert.Equal(2, table.LastSeen(5));
        Assert.Equal(20, table.LastUsed(5));
        Assert.Equal("k5", table.KeyAt(5));

        table.Release(5);
        Assert.Null(table.KeyAt(5));
        Assert.Equal(-1, table.Find("k5"));
        Assert.Equal(99, table.Count);
        Assert.Equal(5, table.Add("new", 3, 30)); // a freed slot before a new one
        Assert.Equal(100, table.HighWater);
    }

    [Fact]
    public void The_slot_table_lists_live_slots_from_least_to_most_recently_used()
    {
        var table = new SlotTable();
        Assert.Equal(-1, table.Oldest);
        var a = table.Add("a", 1, 100);
        var b = table.Add("b", 1, 100);
        var c = table.Add("c", 2, 200);
        Assert.Equal(a, table.Oldest);

        table.Touch(a, 3, 300); // order: b, c, a
        Assert.Equal(b, table.Oldest);
        Assert.Equal(300, table.LastUsed(a));
        table.Release(b); // order: c, a
        Assert.Equal(c, table.Oldest);
        table.Release(a); // the newest goes: c stays oldest
        Assert.Equal(c, table.Oldest);
        var d = table.Add("d", 4, 400); // the last freed slot is reused first
        Assert.Equal(a, d);
        Assert.Equal(c, table.Oldest);
        table.Touch(c, 5, 500); // order: d, c
        Assert.Equal(d, table.Oldest);
        table.Release(d);
        table.Release(c);
        Assert.Equal(-1, table.Oldest);
        Assert.Equal(0, table.Count);
        Assert.Equal(3, table.HighWater);
        Assert.Throws<InvalidOperationException>(() => table.Touch(b, 6, 600));
    }
}
