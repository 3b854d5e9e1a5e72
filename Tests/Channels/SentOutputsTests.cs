using LstmStream.Hosting.Channels;

namespace LstmStream.Tests.Channels;

public sealed class SentOutputsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_wait_completes_once_every_batch_handed_over_before_it_is_settled_not_those_handed_over_after()
    {
        var sent = new SentOutputs();
        Assert.True(sent.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
        sent.HandedOver();
        sent.HandedOver();
        var wait = sent.WaitAsync(CancellationToken.None);
        sent.HandedOver();
        var later = sent.WaitAsync(CancellationToken.None);

        sent.Settled(1);
        Assert.False(wait.IsCompleted);
        sent.Settled(1);
        await wait.WaitAsync(Timeout);
        Assert.False(later.IsCompleted);
        sent.Settled(1);
        await later.WaitAsync(Timeout);
        Assert.Equal(3, sent.SettledCount);
        Assert.True(sent.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Closing_completes_every_wait_and_a_wait_can_be_cancelled()
    {
        var sent = new SentOutputs();
        sent.HandedOver();
        using var cancel = new CancellationTokenSource();
        var cancelled = sent.WaitAsync(cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        var waiting = sent.WaitAsync(CancellationToken.None);
        sent.Close();
        await waiting.WaitAsync(Timeout);
        sent.HandedOver();
        Assert.True(sent.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
    }
}
