using LstmStream.Hosting.Channels;

namespace LstmStream.Tests.Channels;

public sealed class InFlightCreditTests
{
    [Fact]
    public async Task Acquire_waits_until_the_units_fit_and_waiters_are_served_in_order()
    {
        var credit = new InFlightCredit(10);
        await credit.AcquireAsync(8, CancellationToken.None);
        var first = credit.AcquireAsync(5, CancellationToken.None).AsTask();
        var second = credit.AcquireAsync(1, CancellationToken.None).AsTask();
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted); // would fit, but waits behind the first (no overtaking)

        credit.Release(3);
        await first.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(10, credit.InUse);
        Assert.False(second.IsCompleted);
        credit.Release(1);
        await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(10, credit.InUse);
    }

    [Fact]
    public async Task Waiting_for_room_takes_nothing_and_completes_when_one_unit_is_free()
    {
        var credit = new InFlightCredit(2);
        await credit.AcquireAsync(2, CancellationToken.None);
        var room = credit.AcquireAsync(0, CancellationToken.None).AsTask();
        Assert.False(room.IsCompleted);
        credit.Release(1);
        await room.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, credit.InUse);
    }

    [Fact]
    public async Task A_cancelled_waiter_takes_no_units_and_does_not_block_the_next()
    {
        var credit = new InFlightCredit(4);
        await credit.AcquireAsync(4, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = credit.AcquireAsync(4, cancel.Token).AsTask();
        var next = credit.AcquireAsync(1, CancellationToken.None).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        credit.Release(1);
        await next.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(4, credit.InUse);
    }

    [Fact]
    public void Charges_may_exceed_the_limit_and_over_release_is_refused()
    {
        var credit = new InFlightCredit(1);
        credit.Charge(3);
        Assert.Equal(3, credit.InUse);
        Assert.Throws<InvalidOperationException>(() => credit.Release(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => credit.AcquireAsync(2, CancellationToken.None));
    }
}
