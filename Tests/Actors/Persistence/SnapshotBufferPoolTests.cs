using LstmStream.Actors.Persistence;

namespace LstmStream.Tests.Actors.Persistence;

public sealed class SnapshotBufferPoolTests
{
    [Fact]
    public void Once_every_buffer_is_back_the_pool_keeps_none()
    {
        var pool = new SnapshotBufferPool(maxKeptWhileBusy: 4);
        var rented = new[] { pool.Rent(100_000), pool.Rent(300_000), pool.Rent(5_000), pool.Rent(200_000) };

        foreach (var buffer in rented[..3]) pool.Return(buffer);
        Assert.Equal(3, pool.Kept);
        pool.Return(rented[3]);

        Assert.Equal(0, pool.Kept);
        Assert.Equal(0, pool.KeptBytes);
    }

    [Fact]
    public void While_writes_are_under_way_it_keeps_no_more_buffers_than_allowed()
    {
        var pool = new SnapshotBufferPool(maxKeptWhileBusy: 2);
        var held = pool.Rent(10);
        var others = Enumerable.Range(0, 4).Select(_ => pool.Rent(50_000)).ToArray();

        foreach (var buffer in others) pool.Return(buffer);

        Assert.Equal(2, pool.Kept);
        Assert.Equal(2 * others[0].Length, pool.KeptBytes);
        pool.Return(held);
        Assert.Equal(0, pool.Kept);
    }

    [Fact]
    public void A_kept_buffer_is_handed_out_again_when_the_next_snapshot_fits_it()
    {
        var pool = new SnapshotBufferPool(maxKeptWhileBusy: 4);
        var writing = pool.Rent(1);
        var first = pool.Rent(80_000);
        pool.Return(first);

        var second = pool.Rent(90_000);

        Assert.Same(first, second);
        Assert.Equal(2, pool.Allocated);
        Assert.Equal(0, pool.Kept);
        pool.Return(writing);
        pool.Return(second);
    }

    [Fact]
    public void A_snapshot_larger_than_every_kept_buffer_gets_a_new_one_at_least_its_size()
    {
        var pool = new SnapshotBufferPool(maxKeptWhileBusy: 4);
        var writing = pool.Rent(1);
        pool.Return(pool.Rent(1_000));

        var larger = pool.Rent(70_000);

        Assert.True(larger.Length >= 70_000, $"{larger.Length} bytes");
        Assert.Equal(3, pool.Allocated);
        Assert.Equal(1, pool.Kept);
        pool.Return(writing);
        pool.Return(larger);
    }

    [Fact]
    public void The_smallest_fitting_kept_buffer_is_used_so_a_large_one_stays_for_a_large_snapshot()
    {
        var pool = new SnapshotBufferPool(maxKeptWhileBusy: 4);
        var guard = pool.Rent(1);
        var small = pool.Rent(10_000);
        var large = pool.Rent(1_000_000);
        pool.Return(large);
        pool.Return(small);

        Assert.Same(small, pool.Rent(9_000));
        Assert.Same(large, pool.Rent(500_000));
        pool.Return(guard);
    }

    [Fact]
    public void Returning_a_buffer_that_was_not_rented_is_refused()
    {
        var pool = new SnapshotBufferPool(maxKeptWhileBusy: 1);

        var error = Assert.Throws<InvalidOperationException>(() => pool.Return(new byte[16]));

        Assert.Contains("not rented", error.Message, StringComparison.Ordinal);
    }
}
