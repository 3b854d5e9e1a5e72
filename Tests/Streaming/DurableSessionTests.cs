using Akka.Streams;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Time.Testing;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

/// <summary>
/// The pipeline's side of durable sessions: <c>seq</c> per key (duplicates, gaps), restore on demand from an
/// <see cref="ISessionStore"/>, eviction to it, deletes, and checkpoints through the stream.
/// </summary>
public sealed class DurableSessionTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly IMaterializer _materializer;

    public DurableSessionTests() => _materializer = Sys.Materializer();

    private RunningPipeline Start(LstmModel model, PipelineOptions options) => RunningPipeline.Start(this, _materializer, model, options);

    private static PipelineOptions Options(RecordingSessionStore? store, bool asyncLayers = false, int? maxLiveKeys = null, int maxRows = 8) => new()
    {
        MaxBatchRows = maxRows,
        MaxBatchDelay = TimeSpan.FromMilliseconds(2),
        AsyncLayers = asyncLayers,
        MaxLiveKeys = maxLiveKeys,
        SessionStore = store,
    };

    private static TestStep Step(string key, long seq, long tag, int width, int salt, StepFlags flags = StepFlags.HasSeq) =>
        new(key, seq, RandomArray(new Random(salt), width, 1f), flags, tag);

    /// <summary>The steps that change state (no replays), for the per-key reference.</summary>
    private static List<TestStep> Applied(IEnumerable<TestStep> steps)
    {
        var last = new Dictionary<string, long>();
        var applied = new List<TestStep>();
        foreach (var s in steps)
        {
            if (last.TryGetValue(s.Key, out var l) && s.Seq <= l) continue;
            last[s.Key] = s.Seq;
            applied.Add(s);
        }

        return applied;
    }

    [Fact]
    public async Task A_record_whose_seq_is_not_above_the_last_applied_one_is_answered_as_a_duplicate_and_not_applied()
    {
        var model = SeedModel(3, head: null);
        var width = model.InputSize;
        // Key a: seq 0, 1, 2, then 1 and 2 again (a replay), then 3; key b alongside without replays.
        var steps = new List<TestStep>();
        long tag = 0;
        foreach (var seq in new long[] { 0, 1, 2, 1, 2, 3 }) steps.Add(Step("a", seq, tag++, width, (int)seq));
        foreach (var seq in new long[] { 0, 1, 2 }) steps.Add(Step("b", seq, tag++, width, 100 + (int)seq));
        var run = Start(model, Options(null));

        var outputs = await run.SendAndCollectAsync(steps.Select(s => Fragment([s], width)), steps.Count);

        var duplicates = outputs.Where(o => (o.Flags & StepFlags.Duplicate) != 0).ToList();
        Assert.Equal(new long[] { 3, 4 }, duplicates.Select(o => o.Tag).Order());
        Assert.Equal(2, run.Handle.Sessions.Duplicates);
        Assert.Equal(0, run.Handle.Sessions.Gaps);
        var applied = Applied(steps);
        var expected = Reference(model, applied);
        AssertMatchesReference(applied, outputs.Where(o => (o.Flags & StepFlags.Duplicate) == 0).ToList(), expected);
        Assert.Equal(steps.Where(s => s.Key == "a").Select(s => s.Tag), outputs.Where(o => o.Key == "a").Select(o => o.Tag));
        await run.CompleteAsync();
    }

    [Fact]
    public async Task A_duplicate_reset_or_end_is_not_applied_either()
    {
        var model = SeedModel(4, head: null);
        var width = model.InputSize;
        var steps = new List<TestStep>
        {
            Step("k", 5, 0, width, 1),
            Step("k", 6, 1, width, 2),
            Step("k", 6, 2, width, 3, StepFlags.HasSeq | StepFlags.Reset),
            Step("k", 4, 3, width, 4, StepFlags.HasSeq | StepFlags.End),
            Step("k", 7, 4, width, 5),
        };
        var run = Start(model, Options(null));

        var outputs = await run.SendAndCollectAsync(steps.Select(s => Fragment([s], width)), steps.Count);

        Assert.Equal(new[] { false, false, true, true, false }, outputs.Select(o => (o.Flags & StepFlags.Duplicate) != 0));
        var applied = new[] { steps[0], steps[1], steps[4] };
        AssertMatchesReference(applied, outputs.Where(o => (o.Flags & StepFlags.Duplicate) == 0).ToList(), Reference(model, applied));
        Assert.Equal(1, run.Handle.Sessions.LiveKeys);
        await run.CompleteAsync();
    }

    [Fact]
    public async Task A_seq_that_jumps_ahead_is_stepped_and_counted_as_a_gap_and_records_without_seq_are_stepped()
    {
        var model = SeedModel(5, head: null);
        var width = model.InputSize;
        var steps = new List<TestStep>
        {
            Step("g", 1, 0, width, 1),
            Step("g", 2, 1, width, 2),
            Step("g", 9, 2, width, 3),
            Step("g", 0, 3, width, 4, StepFlags.None),
            Step("g", 10, 4, width, 5),
        };
        var run = Start(model, Options(null));

        var outputs = await run.SendAndCollectAsync(steps.Select(s => Fragment([s], width)), steps.Count);

        Assert.DoesNotContain(outputs, o => (o.Flags & StepFlags.Duplicate) != 0);
        Assert.Equal(1, run.Handle.Sessions.Gaps);
        AssertMatchesReference(steps, outputs, Reference(model, steps));
        await run.CompleteAsync();
    }

    [Fact]
    public async Task Export_carries_the_last_applied_seq_and_import_restores_it()
    {
        var model = SeedModel(6, head: null);
        var width = model.InputSize;
        var a = Start(model, Options(null));
        await a.SendAndCollectAsync([Fragment([Step("k", 41, 0, width, 1), Step("n", 0, 1, width, 2, StepFlags.None)], width)], 2);
        var states = await a.Handle.State.ExportAsync(["k", "n"]).WaitAsync(Wait);
        Assert.Equal(new long?[] { 41, null }, states.Select(s => s.LastSeq));
        await a.CompleteAsync();

        var b = Start(model, Options(null));
        await b.Handle.State.ImportAsync(states).WaitAsync(Wait);
        var outputs = await b.SendAndCollectAsync([Fragment([Step("k", 41, 2, width, 3), Step("k", 42, 3, width, 4)], width)], 2);
        Assert.Equal(new[] { true, false }, outputs.Select(o => (o.Flags & StepFlags.Duplicate) != 0));
        await b.CompleteAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Keys_evicted_to_the_store_and_back_give_bitwise_the_outputs_of_a_run_without_eviction(bool asyncLayers)
    {
        var rng = new Random(21);
        var model = RandomModel(rng, 5, [6, 4], HeadActivation.Relu, peepholes: true);
        var steps = InterleavedSteps(rng, keys: 60, maxSteps: 12, width: 5);
        var store = new RecordingSessionStore();
        var run = Start(model, Options(store, asyncLayers, maxLiveKeys: 8, maxRows: 8));

        var outputs = await run.SendAndCollectAsync(Fragments(steps, 5, rng, 12), steps.Count);

        AssertMatchesReference(steps, outputs, Reference(model, steps));
        AssertBatchesWellFormed(outputs, 8);
        var counts = run.Handle.Sessions.Snapshot();
        Assert.True(counts.EvictedToStore > 0, "no key was evicted to the store");
        Assert.True(counts.Restored > 0, "no key came back from the store");
        Assert.Equal(counts.EvictedBound, counts.EvictedToStore);
        Assert.True(counts.LiveKeys <= 8);
        Assert.Equal(0, counts.RestoreWaitingRows);
        await run.CompleteAsync();
    }

    [Fact]
    public async Task A_key_waiting_for_its_stored_state_holds_up_only_its_own_records_which_keep_their_order()
    {
        var model = SeedModel(7, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore();
        // "slow" has a stored state from an earlier run.
        var earlier = Start(model, Options(null));
        var first = new[] { Step("slow", 0, 100, width, 1), Step("slow", 1, 101, width, 2) };
        await earlier.SendAndCollectAsync([Fragment(first, width)], 2);
        store.Stored["slow"] = (await earlier.Handle.State.ExportAsync("slow").WaitAsync(Wait))!;
        await earlier.CompleteAsync();

        store.Hold("slow");
        var run = Start(model, Options(store));
        var fastFirst = Step("fast", 0, 1000, width, 19);
        await run.SendAndCollectAsync([Fragment([fastFirst], width)], 1);
        var later = new List<TestStep>();
        for (var i = 0; i < 4; i++)
        {
            later.Add(Step("slow", 2 + i, 2 * i, width, 10 + i));
            later.Add(Step("fast", 1 + i, 2 * i + 1, width, 20 + i));
        }

        var outputs = await run.SendAndCollectAsync(later.Select(s => Fragment([s], width)), 4);
        Assert.All(outputs, o => Assert.Equal("fast", o.Key));
        Assert.Equal(4, run.Handle.Sessions.RestoreWaitingRows);
        var counts = await run.Handle.State.CountsAsync().WaitAsync(Wait);
        Assert.Equal(1, counts.LiveKeys);
        Assert.Equal(4, counts.RestoreWaitingRows);

        store.Release("slow");
        outputs.AddRange(await run.CollectAsync(4));

        Assert.Equal(later.Where(s => s.Key == "slow").Select(s => s.Tag), outputs.Where(o => o.Key == "slow").Select(o => o.Tag));
        var all = first.Append(fastFirst).Concat(later).ToList();
        AssertMatchesReference(later, outputs, Reference(model, all));
        Assert.Equal(1, run.Handle.Sessions.Restored);
        Assert.Equal(0, run.Handle.Sessions.RestoreWaitingRows);
        Assert.Equal(2, store.LoadsSoFar().Length); // one per batch with keys that were not live
        await run.CompleteAsync();
    }

    [Fact]
    public async Task A_stored_state_of_another_model_is_not_applied_and_is_reported()
    {
        var model = SeedModel(8, head: null);
        var other = SeedModel(9, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore();
        var c = model.Layers.Select(l => Enumerable.Repeat(0.5f, l.CellSize).ToArray()).ToArray();
        var h = model.Layers.Select(l => Enumerable.Repeat(0.5f, l.OutputSize).ToArray()).ToArray();
        store.Stored["k"] = new KeyState(other.Identity, "k", c, h) { LastSeq = 100 };
        var refused = new List<(string, string)>();
        var run = Start(model, Options(store) with { OnStoredStateRefused = (key, identity) => refused.Add((key, identity)) });

        var steps = new[] { Step("k", 3, 0, width, 1) };
        var outputs = await run.SendAndCollectAsync([Fragment(steps, width)], 1);

        Assert.Equal(StepFlags.None, outputs[0].Flags & StepFlags.Duplicate); // the stored seq 100 was not used either
        AssertMatchesReference(steps, outputs, Reference(model, steps));
        Assert.Equal(new[] { ("k", other.Identity) }, refused);
        Assert.Equal(1, run.Handle.Sessions.RestoresRefused);
        Assert.Equal(0, run.Handle.Sessions.Restored);
        await run.CompleteAsync();
    }

    [Fact]
    public async Task A_failing_load_is_retried_while_the_records_wait_in_order()
    {
        var model = SeedModel(10, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore();
        store.FailNextLoads(2);
        var failures = 0;
        var run = Start(model, Options(store) with { OnRestoreFailed = (_, _, _) => failures++ });
        var steps = Enumerable.Range(0, 5).Select(i => Step("k", i, i, width, i)).ToList();

        var outputs = await run.SendAndCollectAsync(steps.Select(s => Fragment([s], width)), steps.Count);

        Assert.Equal(steps.Select(s => s.Tag), outputs.Select(o => o.Tag));
        AssertMatchesReference(steps, outputs, Reference(model, steps));
        Assert.Equal(2, run.Handle.Sessions.RestoreFailures);
        Assert.Equal(2, failures);
        Assert.True(store.LoadsSoFar().Length >= 3);
        await run.CompleteAsync();
    }

    [Fact]
    public async Task A_checkpoint_exports_every_live_key_of_its_bucket_and_counts_those_changed_since_the_last_one()
    {
        var model = SeedModel(11, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore(bucketCount: 4);
        var run = Start(model, Options(store));
        var keys = Enumerable.Range(0, 16).Select(i => $"s{i}").ToList();
        await run.SendAndCollectAsync([Fragment(keys.Select((k, i) => Step(k, 1, i, width, i)).Take(8), width),
            Fragment(keys.Select((k, i) => Step(k, 1, i, width, i)).Skip(8), width)], keys.Count);

        var dirty = await run.Handle.State.DirtyBucketsAsync().WaitAsync(Wait);
        Assert.Equal(keys.Select(k => KeyBuckets.BucketOf(k, 4)).Distinct().Order(), dirty);
        var bucket = dirty[0];
        var inBucket = keys.Where(k => KeyBuckets.BucketOf(k, 4) == bucket).ToList();
        var exported = await run.Handle.State.CheckpointAsync(bucket).WaitAsync(Wait);

        Assert.Equal(inBucket.Count, exported);
        var changes = store.AcceptedSoFar().Last();
        Assert.Equal(bucket, changes.CheckpointBucket);
        Assert.True(changes.LiveBucket);
        Assert.Equal(inBucket.Count, changes.ChangedCount);
        Assert.Empty(changes.Delete);
        Assert.Equal(inBucket.Order(), changes.Save.Select(s => s.Key).Order());
        Assert.All(changes.Save, s => Assert.Equal(1, s.LastSeq));
        var live = await run.Handle.State.ExportAsync(inBucket).WaitAsync(Wait);
        foreach (var (saved, now) in changes.Save.OrderBy(s => s.Key).Zip(live.OrderBy(s => s.Key)))
        {
            Assert.Equal(now.C.SelectMany(x => x), saved.C.SelectMany(x => x));
            Assert.Equal(now.H.SelectMany(x => x), saved.H.SelectMany(x => x));
        }

        // Nothing changed since: the bucket is not dirty and its next export counts no change, yet still holds every
        // live key of it (the store keeps no copy of them); one key stepped again: one change, the others as they were.
        Assert.DoesNotContain(bucket, await run.Handle.State.DirtyBucketsAsync().WaitAsync(Wait));
        Assert.Equal(0, await run.Handle.State.CheckpointAsync(bucket).WaitAsync(Wait));
        Assert.Equal(inBucket.Order(), store.AcceptedSoFar().Last().Save.Select(s => s.Key).Order());
        Assert.Equal(0, store.AcceptedSoFar().Last().ChangedCount);
        await run.SendAndCollectAsync([Fragment([Step(inBucket[0], 2, 99, width, 99)], width)], 1);
        Assert.Equal(1, await run.Handle.State.CheckpointAsync(bucket).WaitAsync(Wait));
        var again = store.AcceptedSoFar().Last();
        Assert.Equal(1, again.ChangedCount);
        Assert.Equal(inBucket.Order(), again.Save.Select(s => s.Key).Order());
        Assert.Equal(2, again.Save.Single(s => s.Key == inBucket[0]).LastSeq);
        Assert.All(again.Save.Where(s => s.Key != inBucket[0]), s => Assert.Equal(1, s.LastSeq));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => run.Handle.State.CheckpointAsync(4));
        await run.CompleteAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_hand_off_exports_every_live_key_of_its_bucket_counting_the_changed_ones_frees_them_and_they_come_back_from_the_store_bitwise(bool asyncLayers)
    {
        var rng = new Random(41);
        var model = RandomModel(rng, 5, [6, 4], HeadActivation.Relu);
        var steps = InterleavedSteps(rng, keys: 40, maxSteps: 10, width: 5);
        var cut = steps.Count / 2;
        var store = new RecordingSessionStore(bucketCount: 4);
        var run = Start(model, Options(store, asyncLayers));
        await run.SendAndCollectAsync(Fragments(steps.Take(cut).ToList(), 5, rng, 8), cut);
        var live = steps.Take(cut).Select(s => s.Key).Distinct().ToList();
        // A checkpoint of the bucket first, then one key stepped again: the hand-off exports every key of the bucket (the
        // store keeps no copy of live keys), one of them changed, and frees them all.
        var again = steps.Skip(cut).First(s => live.Contains(s.Key));
        var bucket = KeyBuckets.BucketOf(again.Key, 4);
        var inBucket = live.Where(k => KeyBuckets.BucketOf(k, 4) == bucket).ToList();
        Assert.True(inBucket.Count > 1);
        await run.Handle.State.CheckpointAsync(bucket).WaitAsync(Wait);
        var rest = steps.Skip(cut).Where(s => !ReferenceEquals(s, again)).ToList();
        var outputs = await run.SendAndCollectAsync([Fragment([again], 5)], 1);

        var (exported, freed) = await run.Handle.State.HandOffAsync(bucket).WaitAsync(Wait);

        Assert.Equal(inBucket.Count, exported);
        Assert.Equal(inBucket.Count, freed);
        var changes = store.AcceptedSoFar().Last();
        Assert.Equal(bucket, changes.CheckpointBucket);
        Assert.Equal(1, changes.ChangedCount);
        Assert.Equal(inBucket.Order(), changes.Save.Select(s => s.Key).Order());
        Assert.Empty(await run.Handle.State.ExportAsync(inBucket).WaitAsync(Wait));
        Assert.Equal(live.Count - inBucket.Count, (await run.Handle.State.CountsAsync().WaitAsync(Wait)).LiveKeys);
        Assert.Equal(inBucket.Order(), store.Stored.Keys.Where(k => KeyBuckets.BucketOf(k, 4) == bucket).Order());
        Assert.DoesNotContain(bucket, await run.Handle.State.DirtyBucketsAsync().WaitAsync(Wait));

        // The bucket's keys are restored from the store on their next records and go on bitwise.
        outputs.AddRange(await run.SendAndCollectAsync(Fragments(rest, 5, rng, 8), rest.Count));
        AssertMatchesReference(steps.Skip(cut).ToList(), outputs, Reference(model, steps));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => run.Handle.State.HandOffAsync(4));
        await run.CompleteAsync();
    }

    [Fact]
    public async Task Without_a_store_checkpoints_are_refused()
    {
        var run = Start(SeedModel(12, head: null), Options(null));
        await Assert.ThrowsAsync<InvalidOperationException>(() => run.Handle.State.CheckpointAsync(0));
        await Assert.ThrowsAsync<InvalidOperationException>(() => run.Handle.State.DirtyBucketsAsync());
        await run.CompleteAsync();
    }

    [Fact]
    public async Task An_end_step_and_a_drop_delete_the_stored_state()
    {
        var model = SeedModel(13, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore();
        var run = Start(model, Options(store));
        await run.SendAndCollectAsync([Fragment([Step("e", 0, 0, width, 1), Step("d", 0, 1, width, 2)], width)], 2);
        foreach (var b in await run.Handle.State.DirtyBucketsAsync().WaitAsync(Wait)) await run.Handle.State.CheckpointAsync(b).WaitAsync(Wait);
        Assert.True(store.Stored.ContainsKey("e") && store.Stored.ContainsKey("d"));
        store.Stored["only-stored"] = store.Stored["d"] with { Key = "only-stored" };

        await run.SendAndCollectAsync([Fragment([Step("e", 1, 2, width, 3, StepFlags.HasSeq | StepFlags.End)], width)], 1);
        Assert.Equal(new[] { "d" }, await run.Handle.State.DropAsync(["d", "only-stored"]).WaitAsync(Wait));

        Assert.Empty(store.Stored);
        Assert.Contains(store.AcceptedSoFar(), c => c.Delete.Contains("e") && c.CheckpointBucket is null);
        // The ended key comes back as a new key: nothing stored, it starts from zero.
        var again = new[] { Step("e", 0, 3, width, 4) };
        var outputs = await run.SendAndCollectAsync([Fragment(again, width)], 1);
        AssertMatchesReference(again, outputs, Reference(model, again));
        await run.CompleteAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_restart_restores_keys_on_demand_answers_the_replay_as_duplicates_and_continues_bitwise(bool asyncLayers)
    {
        var rng = new Random(33);
        var model = RandomModel(rng, 5, [6, 4], HeadActivation.Relu);
        var steps = InterleavedSteps(rng, keys: 40, maxSteps: 10, width: 5);
        var cut = steps.Count / 2;
        var store = new RecordingSessionStore(bucketCount: 16);

        var before = Start(model, Options(store, asyncLayers));
        await before.SendAndCollectAsync(Fragments(steps.Take(cut).ToList(), 5, rng, 8), cut);
        foreach (var b in await before.Handle.State.DirtyBucketsAsync().WaitAsync(Wait)) await before.Handle.State.CheckpointAsync(b).WaitAsync(Wait);
        Assert.Empty(await before.Handle.State.DirtyBucketsAsync().WaitAsync(Wait));
        await before.CompleteAsync();

        // The source replays the last 30 records the checkpoint covered, then goes on.
        var replay = steps.Skip(cut - 30).ToList();
        var after = Start(model, Options(store, asyncLayers));
        var outputs = await after.SendAndCollectAsync(Fragments(replay, 5, rng, 8), replay.Count);

        var duplicates = outputs.Where(o => (o.Flags & StepFlags.Duplicate) != 0).ToList();
        Assert.Equal(steps.Skip(cut - 30).Take(30).Select(s => s.Tag).Order(), duplicates.Select(o => o.Tag).Order());
        var rest = steps.Skip(cut).ToList();
        AssertMatchesReference(rest, outputs.Where(o => (o.Flags & StepFlags.Duplicate) == 0).ToList(), Reference(model, steps));
        foreach (var key in replay.Select(s => s.Key).Distinct())
            Assert.Equal(replay.Where(s => s.Key == key).Select(s => s.Tag), outputs.Where(o => o.Key == key).Select(o => o.Tag));
        await after.CompleteAsync();
    }

    [Fact]
    public async Task A_key_evicted_idle_while_no_data_flows_goes_to_the_store_and_comes_back_bitwise()
    {
        var model = SeedModel(14, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore();
        var clock = new FakeTimeProvider();
        var run = Start(model, Options(store) with { IdleTimeout = TimeSpan.FromSeconds(1), TimeProvider = clock });
        var steps = Enumerable.Range(0, 3).Select(i => Step("i", i, i, width, i)).ToList();
        var outputs = await run.SendAndCollectAsync([Fragment(steps.Take(2), width)], 2);

        clock.Advance(TimeSpan.FromSeconds(3));
        await AwaitConditionAsync(() => Task.FromResult(store.Stored.ContainsKey("i")), Wait);
        Assert.Equal(1, store.Stored["i"].LastSeq);
        Assert.Equal(0, run.Handle.Sessions.LiveKeys);
        outputs.AddRange(await run.SendAndCollectAsync([Fragment(steps.Skip(2), width)], 1));

        AssertMatchesReference(steps, outputs, Reference(model, steps));
        var counts = run.Handle.Sessions.Snapshot();
        Assert.Equal((1L, 1L, 1L), (counts.EvictedIdle, counts.EvictedToStore, counts.Restored));
        await run.CompleteAsync();
    }

    [Fact]
    public async Task Eviction_with_discard_deletes_the_stored_state_and_the_key_starts_from_zero()
    {
        var model = SeedModel(15, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore();
        var run = Start(model, Options(store, maxLiveKeys: 2, maxRows: 2) with { EvictTo = SessionEviction.Discard });
        await run.SendAndCollectAsync([Fragment([Step("a", 0, 0, width, 1)], width)], 1);
        await run.Handle.State.CheckpointAsync(KeyBuckets.BucketOf("a", store.BucketCount)).WaitAsync(Wait);
        Assert.True(store.Stored.ContainsKey("a"));

        await run.SendAndCollectAsync([Fragment([Step("b", 0, 1, width, 2), Step("c", 0, 2, width, 3)], width)], 2);
        var again = new[] { Step("a", 5, 3, width, 4) };
        var outputs = await run.SendAndCollectAsync([Fragment(again, width)], 1);

        Assert.False(store.Stored.ContainsKey("a"));
        AssertMatchesReference(again, outputs, Reference(model, again));
        Assert.Equal(0, run.Handle.Sessions.EvictedToStore);
        await run.CompleteAsync();
    }

    [Fact]
    public void Session_options_that_do_not_fit_together_are_refused_naming_the_setting()
    {
        var store = new RecordingSessionStore();
        var noStore = Assert.Throws<ArgumentException>(() => new PipelineOptions { EvictTo = SessionEviction.Store }.Validate());
        Assert.Contains(nameof(PipelineOptions.EvictTo), noStore.Message);
        var small = Assert.Throws<ArgumentException>(() => new PipelineOptions { MaxBatchRows = 64, RestoreBufferRows = 32, SessionStore = store }.Validate());
        Assert.Contains(nameof(PipelineOptions.RestoreBufferRows), small.Message);
        new PipelineOptions { MaxBatchRows = 64, RestoreBufferRows = 32 }.Validate(); // no store: the buffer is never used
        Assert.Equal(SessionEviction.Store, new PipelineOptions { SessionStore = store }.Eviction);
        Assert.Equal(SessionEviction.Discard, new PipelineOptions().Eviction);
        Assert.Throws<ArgumentException>(() => LstmPipeline.Create(SeedModel(16), () => new LstmStream.Pipeline.Numerics.ManagedMatMul(),
            new PipelineOptions { SessionStore = new RecordingSessionStore(bucketCount: 0) }));
    }

    [Fact]
    public async Task A_reset_step_of_a_stored_key_is_checked_against_its_stored_seq_then_zeroes_the_state()
    {
        var model = SeedModel(17, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore();
        var earlier = Start(model, Options(null));
        await earlier.SendAndCollectAsync([Fragment([Step("r", 3, 0, width, 1)], width)], 1);
        store.Stored["r"] = (await earlier.Handle.State.ExportAsync("r").WaitAsync(Wait))!;
        await earlier.CompleteAsync();

        var run = Start(model, Options(store));
        var steps = new[]
        {
            Step("r", 3, 1, width, 2, StepFlags.HasSeq | StepFlags.Reset), // a replay: not applied, no reset
            Step("r", 4, 2, width, 3, StepFlags.HasSeq | StepFlags.Reset),
            Step("r", 5, 3, width, 4),
        };
        var outputs = await run.SendAndCollectAsync(steps.Select(s => Fragment([s], width)), steps.Length);

        Assert.Equal(new[] { true, false, false }, outputs.Select(o => (o.Flags & StepFlags.Duplicate) != 0));
        var applied = steps.Skip(1).ToList();
        AssertMatchesReference(applied, outputs.Skip(1).ToList(), Reference(model, applied));
        await run.CompleteAsync();
    }

    [Fact]
    public async Task A_state_request_naming_a_key_that_waits_for_its_stored_state_comes_after_the_keys_records()
    {
        var model = SeedModel(18, head: null);
        var width = model.InputSize;
        var store = new RecordingSessionStore();
        store.Hold("w");
        var run = Start(model, Options(store));
        await run.Source.SendNextAsync(Fragment([Step("w", 1, 0, width, 1)], width));
        await AwaitConditionAsync(() => Task.FromResult(run.Handle.Sessions.RestoreWaitingRows == 1), Wait);

        var export = run.Handle.State.ExportAsync("w");
        store.Release("w");
        var outputs = await run.CollectAsync(1);
        var state = await export.WaitAsync(Wait);

        Assert.Equal("w", outputs[0].Key);
        Assert.NotNull(state);
        Assert.Equal(1, state.LastSeq);
        await run.CompleteAsync();
    }
}
