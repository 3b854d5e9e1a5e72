using System.Collections.Concurrent;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Time.Testing;

namespace LstmStream.Tests.Streaming;

/// <summary>
/// The session stage's eviction rules on hand-made batches (exact batch boundaries) and a fake clock, and the
/// bounded state arena under them.
/// </summary>
public sealed class SessionEvictionStageTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly IMaterializer _materializer;

    public SessionEvictionStageTests() => _materializer = Sys.Materializer();

    private sealed record Row(string Key, int Slot, StepFlags Flags);

    private sealed record Running(
        TestPublisher.Probe<StepBatch> Source, SessionCounters Counters, TestSubscriber.Probe<Row[]> Sink,
        ConcurrentQueue<(string Key, EvictionReason Reason)> Evictions)
    {
        /// <summary>Sends one batch of <paramref name="keys"/> and returns its rows once the stage has assigned them.</summary>
        public async Task<Row[]> StepAsync(params string[] keys)
        {
            var batch = StepBatch.Rent(keys.Length, 1);
            foreach (var key in keys) batch.Add(key, 0, StepFlags.None, 0);
            await Source.SendNextAsync(batch);
            return await Sink.RequestNextAsync(Timeout);
        }

        /// <summary>
        /// The session figures read in stream order by a counts request: the stage has processed everything sent or
        /// posted to it before (an idle check a fake clock's timer posted included). Reading them evicts no key
        /// that is not idle yet.
        /// </summary>
        public async Task<SessionCounts> CountsAsync()
        {
            var request = StateRequest.CountsRequest();
            await Source.SendNextAsync(StepBatch.ForControl(request));
            Assert.Empty(await Sink.RequestNextAsync(Timeout));
            return request.Counts;
        }
    }

    private Running Start(PipelineOptions options)
    {
        var evictions = new ConcurrentQueue<(string, EvictionReason)>();
        options = options with { OnKeyEvicted = (key, reason) => evictions.Enqueue((key, reason)) };
        var ((source, counters), sink) = this.SourceProbe<StepBatch>()
            .ViaMaterialized(new SessionSlotStage(options), Keep.Both)
            .Select(b =>
            {
                var rows = Enumerable.Range(0, b.Count).Select(r => new Row(b.Keys[r], b.Slots[r], b.Flags[r])).ToArray();
                b.Release();
                return rows;
            })
            .ToMaterialized(this.SinkProbe<Row[]>(), Keep.Both)
            .Run(_materializer);
        return new Running(source, counters, sink, evictions);
    }

    private static bool IsNew(Row row) => (row.Flags & StepFlags.Reset) != 0;

    [Fact]
    public async Task A_new_key_beyond_the_bound_evicts_the_least_recently_used_key_outside_its_batch()
    {
        var run = Start(new PipelineOptions { MaxBatchRows = 2, MaxLiveKeys = 3 });
        await run.StepAsync("a", "b");
        await run.StepAsync("c");
        await run.StepAsync("a"); // use order now: b, c, a

        var d = await run.StepAsync("d"); // full: b (least recently used) goes
        Assert.True(IsNew(d[0]));
        Assert.Equal([("b", EvictionReason.Bound)], run.Evictions);

        // "c" was used before "a" and "d", but it is in this batch: "a" goes instead, and "e" may reuse its slot.
        var ce = await run.StepAsync("c", "e");
        Assert.False(IsNew(ce[0]));
        Assert.True(IsNew(ce[1]));
        Assert.Equal([("b", EvictionReason.Bound), ("a", EvictionReason.Bound)], run.Evictions);

        // An evicted key comes back as a new key (zero state), evicting the now least recently used "d".
        var a = await run.StepAsync("a");
        Assert.True(IsNew(a[0]));
        Assert.Equal(("d", EvictionReason.Bound), run.Evictions.Last());

        var counts = run.Counters.Snapshot();
        Assert.Equal(3, counts.LiveKeys);
        Assert.Equal(3, counts.EvictedBound);
        Assert.Equal(0, counts.EvictedIdle);
        Assert.Equal(6, counts.KeysCreated); // a, b, c, d, e, a again
        Assert.Equal(counts.KeysCreated - counts.KeysEnded - counts.Evicted, counts.LiveKeys);
        Assert.Equal(3, counts.SlotHighWater); // slots of evicted keys were reused
        await run.Source.SendCompleteAsync();
    }

    [Fact]
    public async Task Keys_idle_for_the_timeout_restart_when_their_next_step_arrives()
    {
        var clock = new FakeTimeProvider();
        var run = Start(new PipelineOptions { MaxBatchRows = 4, IdleTimeout = TimeSpan.FromMinutes(10), TimeProvider = clock });
        await run.StepAsync("idle", "busy");
        clock.Advance(TimeSpan.FromMinutes(6));
        var busy = await run.StepAsync("busy");
        clock.Advance(TimeSpan.FromMinutes(4)); // "idle": exactly 10 minutes without a step; "busy": 4

        var rows = await run.StepAsync("idle", "busy");
        Assert.True(IsNew(rows[0]), "a key idle for the timeout kept its state");
        Assert.False(IsNew(rows[1]), "a key used within the timeout lost its state");
        Assert.Equal(busy[0].Slot, rows[1].Slot);
        Assert.Equal([("idle", EvictionReason.Idle)], run.Evictions);
        var counts = run.Counters.Snapshot();
        Assert.Equal((2, 1L, 0L, 3L), (counts.LiveKeys, counts.EvictedIdle, counts.EvictedBound, counts.KeysCreated));
        await run.Source.SendCompleteAsync();
    }

    [Fact]
    public async Task The_idle_timer_evicts_keys_while_no_data_flows()
    {
        var clock = new FakeTimeProvider();
        var timeout = TimeSpan.FromMinutes(10);
        var run = Start(new PipelineOptions { MaxBatchRows = 4, IdleTimeout = timeout, TimeProvider = clock });
        await run.StepAsync("a", "b");
        clock.Advance(TimeSpan.FromMinutes(5));
        await run.StepAsync("b");

        // No more data. Just before a's expiry nothing is evicted (the counts request, read in stream order after
        // anything the clock's timer posted, proves it); after it (plus the check's slack) the timer frees "a" on
        // its own, and "b" later.
        clock.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        var before = await run.CountsAsync();
        Assert.Equal((2, 0L), (before.LiveKeys, before.EvictedIdle));
        Assert.Empty(run.Evictions);

        clock.Advance(TimeSpan.FromSeconds(1) + SessionSlotStage.IdleCheckSlack(timeout));
        await AwaitAssertAsync(() => Assert.Equal(1, run.Counters.EvictedIdle), Timeout);
        Assert.Equal(1, run.Counters.LiveKeys);
        Assert.Equal([("a", EvictionReason.Idle)], run.Evictions);

        clock.Advance(TimeSpan.FromMinutes(5));
        await AwaitAssertAsync(() => Assert.Equal(2, run.Counters.EvictedIdle), Timeout);
        Assert.Equal(0, run.Counters.LiveKeys);
        Assert.Equal([("a", EvictionReason.Idle), ("b", EvictionReason.Idle)], run.Evictions);

        // With no key live the timer rests; a new key arms it again.
        await run.StepAsync("c");
        clock.Advance(timeout + SessionSlotStage.IdleCheckSlack(timeout));
        await AwaitAssertAsync(() => Assert.Equal(3, run.Counters.EvictedIdle), Timeout);
        await run.Source.SendCompleteAsync();
    }

    [Fact]
    public void A_bounded_state_arena_grows_by_doubling_up_to_its_bound_and_no_further()
    {
        var arena = new StateArena(3, 2, initialRows: 64, maxRows: 100);
        Assert.Equal(64, arena.Rows);
        arena.EnsureRows(65);
        Assert.Equal(100, arena.Rows); // 128 would pass the bound
        Assert.Equal((100L * 3 + 100 * 2) * sizeof(float), arena.Bytes);
        var error = Assert.Throws<InvalidOperationException>(() => arena.EnsureRows(101));
        Assert.Contains("100 slots", error.Message);
        Assert.Equal(10, new StateArena(3, 2, initialRows: 64, maxRows: 10).Rows);
    }

    [Fact]
    public void Options_refuse_a_bound_below_the_batch_size_and_a_non_positive_idle_timeout()
    {
        var bound = Assert.Throws<ArgumentException>(() => new PipelineOptions { MaxBatchRows = 256, MaxLiveKeys = 100 }.Validate());
        Assert.Contains("MaxLiveKeys (100)", bound.Message);
        Assert.Contains("MaxBatchRows (256)", bound.Message);
        var idle = Assert.Throws<ArgumentException>(() => new PipelineOptions { IdleTimeout = TimeSpan.Zero }.Validate());
        Assert.Contains("IdleTimeout", idle.Message);
        Assert.Throws<ArgumentException>(() => new SessionSlotStage(new PipelineOptions { MaxBatchRows = 8, MaxLiveKeys = 7 }));
        new PipelineOptions { MaxBatchRows = 8, MaxLiveKeys = 8, IdleTimeout = TimeSpan.FromTicks(1) }.Validate();
    }
}
