using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Hosting.Service;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Service;

public sealed class HubInboxTests : Akka.TestKit.Xunit2.TestKit
{
    private const int Width = 2;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly IMaterializer _materializer;

    public HubInboxTests() => _materializer = Sys.Materializer();

    private static StepBatch Batch(long tag) => Fragment([new TestStep($"k{tag}", tag, [tag, -tag], StepFlags.HasSeq, tag)], Width);

    /// <summary>The inbox's batches as their tags (each batch released once read).</summary>
    private static Source<long, NotUsed> Tags(HubInbox inbox) =>
        Source.FromGraph(new HubInboxSource(inbox)).Select(b =>
        {
            var tag = b.Tags[0];
            b.Release();
            return tag;
        });

    private TestSubscriber.Probe<long> Read(HubInbox inbox) => Tags(inbox).RunWith(this.SinkProbe<long>(), _materializer);

    [Fact]
    public async Task Batches_come_out_in_the_order_they_were_written_and_the_source_completes_after_the_last()
    {
        var inbox = new HubInbox(4);
        var read = Tags(inbox).RunWith(Sink.Seq<long>(), _materializer);

        var writers = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++) await inbox.WriteAsync(Batch(w * 1000 + i), CancellationToken.None);
        })).ToList();
        await Task.WhenAll(writers).WaitAsync(Patience);
        inbox.Complete();
        var tags = await read.WaitAsync(Patience);

        Assert.Equal(600, tags.Count);
        for (var w = 0; w < 3; w++)
        {
            var mine = tags.Where(t => t / 1000 == w).ToList();
            Assert.Equal(Enumerable.Range(0, 200).Select(i => (long)(w * 1000 + i)), mine);
        }
    }

    [Fact]
    public async Task A_batch_written_while_the_source_waits_on_an_empty_inbox_is_emitted()
    {
        var inbox = new HubInbox(4);
        var probe = Read(inbox);
        probe.Request(2);
        // The source found the inbox empty and parked: the writer wakes it.
        await AwaitConditionAsync(() => Task.FromResult(inbox.ReaderParked), Patience);
        await inbox.WriteAsync(Batch(7), CancellationToken.None);
        await probe.ExpectNextAsync(7L);
        await AwaitConditionAsync(() => Task.FromResult(inbox.ReaderParked), Patience);
        await inbox.WriteAsync(Batch(8), CancellationToken.None);
        await probe.ExpectNextAsync(8L);

        inbox.Complete();
        await probe.ExpectCompleteAsync();
    }

    [Fact]
    public async Task A_full_inbox_makes_the_writer_wait_until_the_source_takes_a_batch()
    {
        var inbox = new HubInbox(2);
        await inbox.WriteAsync(Batch(1), CancellationToken.None);
        await inbox.WriteAsync(Batch(2), CancellationToken.None);
        var third = inbox.WriteAsync(Batch(3), CancellationToken.None).AsTask();

        Assert.False(third.IsCompleted);
        Assert.Equal(2, inbox.Count);
        var probe = Read(inbox);
        probe.Request(1);
        await probe.ExpectNextAsync(1L);
        await third.WaitAsync(Patience);
        probe.Request(2);
        await probe.ExpectNextAsync(2L);
        await probe.ExpectNextAsync(3L);
    }

    [Fact]
    public async Task After_completion_writes_are_refused_and_the_batches_already_taken_are_still_read()
    {
        var inbox = new HubInbox(2);
        await inbox.WriteAsync(Batch(1), CancellationToken.None);
        await inbox.WriteAsync(Batch(2), CancellationToken.None);
        var waiting = inbox.WriteAsync(Batch(3), CancellationToken.None).AsTask();
        inbox.Complete();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => waiting.WaitAsync(Patience));
        Assert.Contains("completed", refused.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await inbox.WriteAsync(Batch(4), CancellationToken.None));
        var probe = Read(inbox);
        probe.Request(5);
        await probe.ExpectNextAsync(1L);
        await probe.ExpectNextAsync(2L);
        await probe.ExpectCompleteAsync();
    }

    [Fact]
    public async Task A_writer_waiting_for_room_stops_waiting_when_its_token_is_cancelled()
    {
        var inbox = new HubInbox(1);
        await inbox.WriteAsync(Batch(1), CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = inbox.WriteAsync(Batch(2), cancel.Token).AsTask();
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience));
        Assert.Equal(1, inbox.Count);
    }

    [Fact]
    public async Task A_batch_written_beyond_the_capacity_is_taken_and_room_returns_only_once_the_inbox_is_below_it_again()
    {
        var inbox = new HubInbox(1);
        Assert.True(inbox.TryWrite(Batch(1)));
        Assert.True(inbox.TryWrite(Batch(2)));
        Assert.Equal(2, inbox.Count);
        var room = inbox.WaitForRoomAsync(CancellationToken.None).AsTask();
        Assert.False(room.IsCompleted);

        Assert.True(inbox.TryTake(out var first));
        Assert.Equal(1, first.Tags[0]);
        first.Release();
        // One batch waits: the inbox is still full.
        await Task.Delay(100);
        Assert.False(room.IsCompleted);

        Assert.True(inbox.TryTake(out var second));
        Assert.Equal(2, second.Tags[0]);
        second.Release();
        await room.WaitAsync(Patience);
        // Waiting for room took none: a write now takes it without an overdraft.
        await inbox.WriteAsync(Batch(3), CancellationToken.None).AsTask().WaitAsync(Patience);
        Assert.False(inbox.WaitForRoomAsync(CancellationToken.None).IsCompleted);

        inbox.Complete();
        Assert.False(inbox.TryWrite(Batch(4)));
    }
}
