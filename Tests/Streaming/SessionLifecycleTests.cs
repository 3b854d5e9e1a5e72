using System.Collections.Concurrent;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Time.Testing;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

/// <summary>
/// Keys' sessions through the whole pipeline: idle eviction on a fake clock, the live-key bound under a
/// flood of new keys, and the admin requests (reset, drop, counts) in stream order, with every output
/// checked against the per-key reference run.
/// </summary>
public sealed class SessionLifecycleTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly IMaterializer _materializer;

    public SessionLifecycleTests() => _materializer = Sys.Materializer();

    private sealed record Running(
        TestPublisher.Probe<StepBatch> Source, LstmPipelineHandle Handle, TestSubscriber.Probe<StepBatch> Sink,
        ConcurrentQueue<(string Key, EvictionReason Reason)> Evictions)
    {
        private int _batches;

        /// <summary>Collects outputs until <paramref name="rows"/> rows have come out.</summary>
        public async Task<List<TestOutput>> CollectAsync(int rows)
        {
            var outputs = new List<TestOutput>();
            while (outputs.Count < rows) outputs.AddRange(Drain(await Sink.RequestNextAsync(Timeout), _batches++));
            return outputs;
        }

        /// <summary>Sends <paramref name="steps"/> as one fragment and waits for their outputs.</summary>
        public async Task<List<TestOutput>> StepAsync(params TestStep[] steps)
        {
            await Source.SendNextAsync(Fragment(steps, steps[0].X.Length));
            return await CollectAsync(steps.Length);
        }
    }

    private Running Start(LstmModel model, PipelineOptions options)
    {
        var evictions = new ConcurrentQueue<(string, EvictionReason)>();
        options = options with { OnKeyEvicted = (key, reason) => evictions.Enqueue((key, reason)) };
        var ((source, handle), sink) = this.SourceProbe<StepBatch>()
            .ViaMaterialized(LstmPipeline.Create(model, () => new ManagedMatMul(), options), Keep.Both)
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);
        return new Running(source, handle, sink, evictions);
    }

    private static TestStep S(string key, float[] x, long tag, StepFlags flags = StepFlags.None) => new(key, tag, x, flags, tag);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_key_idle_past_the_timeout_restarts_from_zero_state_and_an_active_key_keeps_its_state(bool asyncLayers)
    {
        var model = SeedModel(31);
        var rng = new Random(3);
        float[] x1 = RandomArray(rng, 6, 1), x2 = RandomArray(rng, 6, 1), x3 = RandomArray(rng, 6, 1);
        var clock = new FakeTimeProvider();
        var run = Start(model, new PipelineOptions
        {
            MaxBatchRows = 8, AsyncLayers = asyncLayers, IdleTimeout = TimeSpan.FromMinutes(10), TimeProvider = clock,
        });

        var outputs = await run.StepAsync(S("sleepy", x1, 0), S("active", x1, 1));
        clock.Advance(TimeSpan.FromMinutes(6));
        outputs.AddRange(await run.StepAsync(S("active", x2, 2)));
        clock.Advance(TimeSpan.FromMinutes(6)); // "sleepy": 12 minutes without a step; "active": 6
        outputs.AddRange(await run.StepAsync(S("sleepy", x2, 3), S("active", x3, 4)));

        // The reference: "sleepy" was evicted before its second step, i.e. that step starts from zero state.
        List<TestStep> asEvicted = [S("sleepy", x1, 0), S("active", x1, 1), S("active", x2, 2), S("sleepy", x2, 3, StepFlags.Reset), S("active", x3, 4)];
        AssertMatchesReference(asEvicted, outputs, Reference(model, asEvicted));
        var restarted = outputs.Single(o => o.Tag == 3);
        Assert.Equal(Reference(model, [S("fresh", x2, 0)])[0], restarted.Y);
        Assert.NotEqual(Reference(model, [S("sleepy", x1, 0), S("sleepy", x2, 1)])[1], restarted.Y);
        Assert.True((restarted.Flags & StepFlags.Reset) != 0, "the restarted key's step was not flagged as a new key's");
        Assert.True((outputs.Single(o => o.Tag == 4).Flags & StepFlags.Reset) == 0);

        Assert.Equal([("sleepy", EvictionReason.Idle)], run.Evictions);
        var counts = await run.Handle.State.CountsAsync().WaitAsync(Timeout);
        Assert.Equal(new SessionCounts(LiveKeys: 2, KeysCreated: 3, KeysEnded: 0, EvictedIdle: 1, EvictedBound: 0, Batches: 3, SlotHighWater: 2), counts);
        await run.Source.SendCompleteAsync();
    }

    [Fact]
    public async Task Idle_keys_are_evicted_while_no_data_flows_and_then_restart()
    {
        var model = SeedModel(32);
        var rng = new Random(4);
        float[] x1 = RandomArray(rng, 6, 1), x2 = RandomArray(rng, 6, 1);
        var clock = new FakeTimeProvider();
        var timeout = TimeSpan.FromSeconds(30);
        var run = Start(model, new PipelineOptions { MaxBatchRows = 8, IdleTimeout = timeout, TimeProvider = clock });

        await run.StepAsync(S("a", x1, 0), S("b", x1, 1), S("c", x1, 2));
        clock.Advance(timeout - TimeSpan.FromSeconds(1));
        var before = await run.Handle.State.CountsAsync().WaitAsync(Timeout); // an item in the stream checks too
        Assert.Equal((3, 0L), (before.LiveKeys, before.EvictedIdle));

        clock.Advance(TimeSpan.FromSeconds(1) + SessionSlotStage.IdleCheckSlack(timeout));
        await AwaitAssertAsync(() => Assert.Equal(3, run.Handle.Sessions.Snapshot().EvictedIdle), Timeout);

        var counts = run.Handle.Sessions.Snapshot();
        Assert.Equal((0, 3L, 3L), (counts.LiveKeys, counts.KeysCreated, counts.Evicted));
        Assert.Equal(["a", "b", "c"], run.Evictions.Select(e => e.Key).Order());
        Assert.All(run.Evictions, e => Assert.Equal(EvictionReason.Idle, e.Reason));
        Assert.Null(await run.Handle.State.ExportAsync("a"));

        var again = await run.StepAsync(S("a", x2, 3));
        Assert.Equal(Reference(model, [S("a", x2, 0)])[0], again[0].Y);
        await run.Source.SendCompleteAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_flood_of_new_keys_stays_within_the_bound_and_keys_in_use_keep_their_state(bool asyncLayers)
    {
        const int bound = 64, batchRows = 16, survivors = 8, floodPerRound = 16, rounds = 40; // 640 new keys = 10 × bound
        var model = SeedModel(33);
        var rng = new Random(asyncLayers ? 5 : 6);
        var run = Start(model, new PipelineOptions { MaxBatchRows = batchRows, MaxLiveKeys = bound, AsyncLayers = asyncLayers });

        // Every round each survivor steps once, then new keys arrive. A survivor is always used more recently
        // than the 40+ flood keys of earlier rounds that are live, so the bound evicts only flood keys.
        var steps = new List<TestStep>();
        for (var r = 0; r < rounds; r++)
        {
            for (var s = 0; s < survivors; s++) steps.Add(new TestStep($"survivor-{s}", r, RandomArray(rng, 6, 1), StepFlags.HasSeq, steps.Count));
            for (var f = 0; f < floodPerRound; f++) steps.Add(new TestStep($"flood-{r}-{f}", 0, RandomArray(rng, 6, 1), StepFlags.HasSeq, steps.Count));
        }

        var sending = Task.Run(async () =>
        {
            foreach (var f in Fragments(steps, 6, rng, 20)) await run.Source.SendNextAsync(f);
        });
        var outputs = await run.CollectAsync(steps.Count);
        await sending.WaitAsync(Timeout);

        AssertMatchesReference(steps, outputs, Reference(model, steps));
        AssertBatchesWellFormed(outputs, batchRows);

        var keys = survivors + rounds * floodPerRound;
        var counts = await run.Handle.State.CountsAsync().WaitAsync(Timeout);
        Assert.Equal(new SessionCounts(LiveKeys: bound, KeysCreated: keys, KeysEnded: 0, EvictedIdle: 0,
            EvictedBound: keys - bound, Batches: counts.Batches, SlotHighWater: bound), counts);
        // Every live key holds a slot of its own and freed slots are reused first: no more than `bound` slots ever
        // handed out means no more than `bound` keys were ever live at once.
        Assert.Equal(keys - bound, run.Evictions.Count);
        Assert.All(run.Evictions, e => Assert.Equal(EvictionReason.Bound, e.Reason));
        Assert.DoesNotContain(run.Evictions, e => e.Key.StartsWith("survivor-", StringComparison.Ordinal));
        Assert.Equal(keys - bound, run.Evictions.Select(e => e.Key).Distinct().Count());

        // The survivors are live with the state of all their steps; the last flood keys are live too.
        var survivorKeys = Enumerable.Range(0, survivors).Select(s => $"survivor-{s}").ToList();
        Assert.Equal(survivorKeys, (await run.Handle.State.ExportAsync(survivorKeys)).Select(s => s.Key));
        Assert.NotNull(await run.Handle.State.ExportAsync($"flood-{rounds - 1}-{floodPerRound - 1}"));
        Assert.Null(await run.Handle.State.ExportAsync("flood-0-0"));
        await run.Source.SendCompleteAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Reset_and_drop_take_effect_exactly_between_the_steps_before_and_after_them(bool asyncLayers)
    {
        var model = SeedModel(34);
        var rng = new Random(7);
        var x = Enumerable.Range(0, 8).Select(_ => RandomArray(rng, 6, 1)).ToArray();
        var run = Start(model, new PipelineOptions { MaxBatchRows = 4, AsyncLayers = asyncLayers, MaxBatchDelay = TimeSpan.FromMilliseconds(20) });
        List<TestStep> Others(int first) =>
            Enumerable.Range(0, 20).Select(i => new TestStep($"other-{i % 10}", i / 10, RandomArray(rng, 6, 1), StepFlags.HasSeq, first + i)).ToList();

        // Each request is made once the key's earlier steps have entered the pipeline (their outputs came
        // out) and before its next step is sent, while other keys' steps are in flight around it.
        var outputs = await run.StepAsync(S("a", x[0], 0), S("b", x[1], 1), S("a", x[2], 2));
        var others1 = Others(100);
        await run.Source.SendNextAsync(Fragment(others1, 6));
        var reset = run.Handle.State.ResetAsync("a");
        var resetGhost = run.Handle.State.ResetAsync("ghost");
        await run.Source.SendNextAsync(Fragment([S("a", x[3], 3), S("b", x[4], 4)], 6));
        outputs.AddRange(await run.CollectAsync(others1.Count + 2));

        var others2 = Others(200);
        await run.Source.SendNextAsync(Fragment(others2, 6));
        var drop = run.Handle.State.DropAsync("a");
        var dropGhost = run.Handle.State.DropAsync("ghost");
        await run.Source.SendNextAsync(Fragment([S("a", x[5], 5), S("a", x[6], 6), S("b", x[7], 7)], 6));
        outputs.AddRange(await run.CollectAsync(others2.Count + 3));

        Assert.True(await reset.WaitAsync(Timeout));
        Assert.False(await resetGhost.WaitAsync(Timeout));
        Assert.True(await drop.WaitAsync(Timeout));
        Assert.False(await dropGhost.WaitAsync(Timeout));

        // "a" continues over steps 0 and 2, starts from zero at step 3 (reset) and again at step 5 (dropped),
        // and continues from 5 to 6; "b" and the others are untouched.
        List<TestStep> expected =
        [
            S("a", x[0], 0), S("b", x[1], 1), S("a", x[2], 2), .. others1, S("a", x[3], 3, StepFlags.Reset), S("b", x[4], 4),
            .. others2, S("a", x[5], 5, StepFlags.Reset), S("a", x[6], 6), S("b", x[7], 7),
        ];
        AssertMatchesReference(expected, outputs, Reference(model, expected));
        var byTag = outputs.ToDictionary(o => o.Tag);
        Assert.True((byTag[3].Flags & StepFlags.Reset) == 0, "a reset key was made new: it should have stayed live");
        Assert.True((byTag[5].Flags & StepFlags.Reset) != 0, "the first step after a drop was not flagged as a new key's");

        var counts = await run.Handle.State.CountsAsync().WaitAsync(Timeout);
        Assert.Equal((12, 13L, 1L, 0L), (counts.LiveKeys, counts.KeysCreated, counts.KeysEnded, counts.Evicted));
        Assert.Equal(counts, run.Handle.Sessions.Snapshot());

        // A reset zeroes the key's state in every layer and keeps it live.
        Assert.True(await run.Handle.State.ResetAsync("b"));
        var b = await run.Handle.State.ExportAsync("b");
        Assert.NotNull(b);
        Assert.All(b.C.Concat(b.H), row => Assert.All(row, v => Assert.Equal(0f, v)));
        Assert.Equal(12, run.Handle.Sessions.LiveKeys);
        Assert.Equal(["a"], await run.Handle.State.DropAsync(["ghost", "a"]));
        Assert.Equal(11, run.Handle.Sessions.LiveKeys);
        Assert.Empty(run.Evictions);
        await run.Source.SendCompleteAsync();
    }

    [Fact]
    public async Task Imports_respect_the_bound()
    {
        var model = SeedModel(35);
        var rng = new Random(8);
        var run = Start(model, new PipelineOptions { MaxBatchRows = 4, MaxLiveKeys = 8 });
        KeyState State(string key) => new(model.Identity, key,
            model.Layers.Select(l => RandomArray(rng, l.CellSize)).ToArray(), model.Layers.Select(l => RandomArray(rng, l.OutputSize)).ToArray());

        var tooMany = Enumerable.Range(0, 9).Select(i => State($"k{i}")).ToList();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => run.Handle.State.ImportAsync(tooMany).WaitAsync(Timeout));
        Assert.Contains("9 keys", error.Message);
        Assert.Contains("MaxLiveKeys = 8", error.Message);
        Assert.Equal(0, run.Handle.Sessions.LiveKeys);

        var states = tooMany.Take(8).ToList();
        await run.Handle.State.ImportAsync(states).WaitAsync(Timeout);
        Assert.Equal(8, run.Handle.Sessions.LiveKeys);

        // A new key evicts the least recently used imported key; the others keep the imported state.
        var x = RandomArray(rng, 6, 1);
        var output = await run.StepAsync(S("new", x, 0));
        Assert.Equal(Reference(model, [S("new", x, 0)])[0], output[0].Y);
        Assert.Equal([("k0", EvictionReason.Bound)], run.Evictions);
        var k1 = await run.Handle.State.ExportAsync("k1");
        Assert.NotNull(k1);
        Assert.Equal(states[1].C, k1.C);
        Assert.Equal(states[1].H, k1.H);
        await run.Source.SendCompleteAsync();
    }
}
