using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.TestKit;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>The store's failure paths, on Akka.Persistence.TestKit's journal and snapshot store (told to fail).</summary>
public sealed class StoreFailureTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly Config TestStores = ConfigurationFactory.ParseString("""
        akka.persistence {
          journal {
            plugin = "akka.persistence.journal.test"
            auto-start-journals = ["akka.persistence.journal.test"]
            test {
              class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
              plugin-dispatcher = "akka.actor.default-dispatcher"
            }
          }
          snapshot-store {
            plugin = "akka.persistence.snapshot-store.test"
            auto-start-snapshot-stores = ["akka.persistence.snapshot-store.test"]
            test {
              class = "Akka.Persistence.TestKit.TestSnapshotStore, Akka.Persistence.TestKit"
              plugin-dispatcher = "akka.actor.default-dispatcher"
            }
          }
        }
        """);

    private readonly ITestSnapshotStore _snapshots;

    public StoreFailureTests() : base(TestStores) =>
        _snapshots = TestSnapshotStore.FromRef(Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(null));

    [Fact]
    public async Task A_failed_save_is_reported_and_its_changes_are_written_by_the_next_save()
    {
        var store = await StoredSessions.OpenAsync(Sys, 4);
        var state = StoredSessions.State("k", 1, 11);
        var bucket = KeyBuckets.BucketOf("k", 4);
        await _snapshots.OnSave.Fail();
        store.Accept(new SessionChanges([state], [], null));

        var error = await Assert.ThrowsAsync<SessionStoreException>(() => store.SaveBucketAsync(bucket, CancellationToken.None));
        Assert.Contains($"bucket {bucket}", error.Message, StringComparison.Ordinal);

        await _snapshots.OnSave.Pass();
        await AssertWrittenAndReadAfterARestartAsync(store, bucket, state);
    }

    [Fact]
    public async Task A_bucket_that_cannot_be_recovered_fails_its_requests_and_keeps_its_changes_for_the_next_attempt()
    {
        var store = await StoredSessions.OpenAsync(Sys, 4);
        var bucket = KeyBuckets.BucketOf("k", 4);
        await _snapshots.OnLoad.Fail();

        var load = await Assert.ThrowsAsync<SessionStoreException>(() => store.LoadAsync(["k"], CancellationToken.None));
        Assert.Contains($"bucket {bucket} could not be read", load.Message, StringComparison.Ordinal);
        Assert.Equal(1, store.Figures.LoadFailures);

        var state = StoredSessions.State("k", 2, 22);
        store.Accept(new SessionChanges([state], [], null));
        await Assert.ThrowsAsync<SessionStoreException>(() => store.SaveBucketAsync(bucket, CancellationToken.None));

        await _snapshots.OnLoad.Pass();
        await AssertWrittenAndReadAfterARestartAsync(store, bucket, state);
    }

    [Fact]
    public async Task A_live_key_needed_while_the_latest_snapshot_cannot_be_read_is_refused_and_served_once_it_can()
    {
        var bucket = Sys.ActorOf(BucketActor.Props(5, TimeSpan.Zero));
        var live = StoredSessions.State("a", 8, 80);
        bucket.Tell(new BucketProtocol.ApplyChanges(5, [live], []) { Live = true, Changed = 1 });
        Assert.True((await bucket.Ask<BucketProtocol.BucketSaved>(new BucketProtocol.SaveBucket(5), StoredSessions.Timeout)).Written);
        Assert.Equal(new BucketProtocol.BucketMemory(5, 0, 1),
            await bucket.Ask<BucketProtocol.BucketMemory>(new BucketProtocol.GetBucketMemory(5), StoredSessions.Timeout));
        await _snapshots.OnLoad.Fail();

        var load = await Assert.ThrowsAsync<SessionStoreException>(() =>
            bucket.Ask<BucketProtocol.LoadedKeys>(new BucketProtocol.LoadKeys(5, ["a"]), StoredSessions.Timeout));
        Assert.Contains("the latest snapshot could not be read", load.Message, StringComparison.Ordinal);
        // A save that needs the live key's state fails too and keeps the change for the next attempt.
        var evicted = StoredSessions.State("e", 9, 90);
        bucket.Tell(new BucketProtocol.ApplyChanges(5, [evicted], []));
        var save = await Assert.ThrowsAsync<SessionStoreException>(() =>
            bucket.Ask<BucketProtocol.BucketSaved>(new BucketProtocol.SaveBucket(5), StoredSessions.Timeout));
        Assert.Contains("bucket 5: the snapshot could not be written", save.Message, StringComparison.Ordinal);

        await _snapshots.OnLoad.Pass();
        var loaded = await bucket.Ask<BucketProtocol.LoadedKeys>(new BucketProtocol.LoadKeys(5, ["a", "e"]), StoredSessions.Timeout);
        var states = loaded.States.ToDictionary(s => s.Key);
        StoredSessions.AssertBitwiseEqual(live, states["a"]);
        StoredSessions.AssertBitwiseEqual(evicted, states["e"]);
        var saved = await bucket.Ask<BucketProtocol.BucketSaved>(new BucketProtocol.SaveBucket(5), StoredSessions.Timeout);
        Assert.True(saved.Written);
        Assert.Equal(2, saved.Keys);
    }

    [Fact]
    public async Task A_store_that_cannot_be_read_at_start_is_reported()
    {
        await _snapshots.OnLoad.Fail();
        var error = await Assert.ThrowsAsync<SessionStoreException>(() => StoredSessions.OpenAsync(Sys, 4));
        Assert.Contains("could not be read", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_snapshot_write_left_unanswered_fails_after_the_save_timeout_and_the_next_write_goes_through()
    {
        var bucket = Sys.ActorOf(BucketActor.Props(3, TimeSpan.Zero, TimeSpan.FromMilliseconds(300)));
        var state = StoredSessions.State("k", 4, 40);
        bucket.Tell(new BucketProtocol.ApplyChanges(3, [state], []));
        // The store takes far longer than the save timeout: the bucket must not wait for it.
        await _snapshots.OnSave.PassWithDelay(TimeSpan.FromSeconds(10));

        var failure = await Assert.ThrowsAsync<SessionStoreException>(() =>
            bucket.Ask<BucketProtocol.BucketSaved>(new BucketProtocol.SaveBucket(3), StoredSessions.Timeout));
        Assert.Contains("bucket 3: the snapshot could not be written: the snapshot store did not answer within 0.3 s", failure.Message,
            StringComparison.Ordinal);

        // The store answers again: the changes kept since are written by the next checkpoint, and a restart reads them.
        await _snapshots.OnSave.Pass();
        var saved = await bucket.Ask<BucketProtocol.BucketSaved>(new BucketProtocol.SaveBucket(3), StoredSessions.Timeout);
        Assert.True(saved.Written);
        Assert.Equal(1, saved.Keys);
        await bucket.GracefulStop(StoredSessions.Timeout);
        var again = Sys.ActorOf(BucketActor.Props(3, TimeSpan.Zero));
        var loaded = await again.Ask<BucketProtocol.LoadedKeys>(new BucketProtocol.LoadKeys(3, ["k"]), StoredSessions.Timeout);
        StoredSessions.AssertBitwiseEqual(state, Assert.Single(loaded.States));
    }

    [Fact]
    public async Task A_checkpoint_exports_each_bucket_it_writes_one_by_one_the_dirty_ones_and_those_with_evicted_keys()
    {
        var store = await StoredSessions.OpenAsync(Sys, 8);
        var source = new FakeCheckpointSource(store);
        var coordinator = Sys.ActorOf(CheckpointCoordinatorActor.Props(source, store, TimeSpan.Zero, TimeSpan.FromSeconds(5)));
        var stepped = Enumerable.Range(0, 12).Select(i => StoredSessions.State($"key-{i}", i, i)).ToArray();
        foreach (var state in stepped) source.Step(state);
        var evicted = StoredSessions.State("evicted", 99, 5);
        store.Accept(new SessionChanges([evicted], [], null));
        var dirty = await source.DirtyBucketsAsync();

        var done = await coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, StoredSessions.Timeout);

        Assert.Equal(stepped.Length, done.Keys);
        var buckets = stepped.Append(evicted).Select(s => KeyBuckets.BucketOf(s.Key, 8)).Distinct().Order().ToArray();
        Assert.Equal(buckets, source.Exported);
        Assert.Subset(buckets.ToHashSet(), dirty.ToHashSet());
        Assert.Equal(buckets.Length, done.Buckets);
        Assert.True(done.Bytes > 0);
        Assert.Equal(1, store.Figures.Checkpoints);
        Assert.Equal(stepped.Length, store.Figures.KeysCheckpointed);
        Assert.False(store.Figures.IsDegraded);

        var again = await OpenAgainAsync(8);
        var loaded = (await again.LoadAsync(stepped.Append(evicted).Select(s => s.Key).ToArray(), CancellationToken.None)).ToDictionary(s => s.Key);
        foreach (var state in stepped.Append(evicted)) StoredSessions.AssertBitwiseEqual(state, loaded[state.Key]);

        // Nothing changed since: the next checkpoint writes nothing.
        var idle = await coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, StoredSessions.Timeout);
        Assert.Equal(0, idle.Buckets);
        Assert.Equal(0, idle.Keys);
    }

    [Fact]
    public async Task A_failing_store_degrades_until_a_checkpoint_writes_everything_kept_meanwhile()
    {
        var store = await StoredSessions.OpenAsync(Sys, 8);
        var source = new FakeCheckpointSource(store);
        var rounds = new CheckpointRounds(active: true);
        var committed = new List<long>();
        rounds.Committed += round => { lock (committed) committed.Add(round); };
        var coordinator = Sys.ActorOf(CheckpointCoordinatorActor.Props(source, store, TimeSpan.Zero, TimeSpan.FromSeconds(5), rounds));
        var first = StoredSessions.State("first", 1, 1);
        source.Step(first);
        await _snapshots.OnSave.Fail();

        var failure = await Assert.ThrowsAsync<SessionStoreException>(() =>
            coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, StoredSessions.Timeout));
        Assert.Contains("could not be written", failure.Message, StringComparison.Ordinal);
        Assert.True(store.Figures.IsDegraded);
        Assert.Equal(1, store.Figures.CheckpointFailures);
        Assert.Empty(await source.DirtyBucketsAsync());
        // The failed round began but is not reported as written: nothing may be acknowledged or committed for it.
        Assert.Equal(1, rounds.Begun);
        Assert.Equal(0, rounds.LastCommitted);
        lock (committed) Assert.Empty(committed);

        // Stepped while the store is down, then the store comes back: the next checkpoint writes both.
        var second = StoredSessions.State("second", 2, 2);
        source.Step(second);
        await _snapshots.OnSave.Pass();
        var done = await coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, StoredSessions.Timeout);
        Assert.False(store.Figures.IsDegraded);
        Assert.Equal(1, done.Keys);
        Assert.Equal(2, rounds.LastCommitted);
        lock (committed) Assert.Equal([2L], committed);
        var again = await OpenAgainAsync(8);
        var loaded = (await again.LoadAsync(["first", "second"], CancellationToken.None)).ToDictionary(s => s.Key);
        StoredSessions.AssertBitwiseEqual(first, loaded["first"]);
        StoredSessions.AssertBitwiseEqual(second, loaded["second"]);
    }

    [Fact]
    public async Task Checkpoints_run_every_interval_and_a_failure_is_retried_without_being_asked()
    {
        var store = await StoredSessions.OpenAsync(Sys, 8);
        var source = new FakeCheckpointSource(store);
        await _snapshots.OnSave.Fail();
        Sys.ActorOf(CheckpointCoordinatorActor.Props(source, store, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2)));
        var state = StoredSessions.State("timed", 3, 3);
        source.Step(state);

        await AwaitConditionAsync(() => Task.FromResult(store.Figures.IsDegraded), StoredSessions.Timeout);
        await _snapshots.OnSave.Pass();
        await AwaitConditionAsync(() => Task.FromResult(!store.Figures.IsDegraded && store.Figures.Checkpoints > 0), StoredSessions.Timeout);
        var again = await OpenAgainAsync(8);
        StoredSessions.AssertBitwiseEqual(state, Assert.Single(await again.LoadAsync(["timed"], CancellationToken.None)));
    }

    /// <summary>The bucket of the one key <paramref name="state"/> is written now, and a new region (a restart) reads it back.</summary>
    private async Task AssertWrittenAndReadAfterARestartAsync(PersistentSessionStore store, int bucket, KeyState state)
    {
        var saved = await store.SaveBucketAsync(bucket, CancellationToken.None);
        Assert.True(saved.Written);
        Assert.Equal(1, saved.Keys);
        var again = await OpenAgainAsync(store.BucketCount);
        StoredSessions.AssertBitwiseEqual(state, Assert.Single(await again.LoadAsync([state.Key], CancellationToken.None)));
    }

    /// <summary>A second region on the same (test) store: what a restarted service would read.</summary>
    [Fact]
    public async Task A_bucket_is_written_only_once_the_outputs_of_the_steps_it_holds_have_left_the_process()
    {
        var store = await StoredSessions.OpenAsync(Sys, 8);
        var source = new FakeCheckpointSource(store);
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var coordinator = Sys.ActorOf(CheckpointCoordinatorActor.Props(source, store, TimeSpan.Zero, TimeSpan.FromSeconds(5),
            outputsSent: _ =>
            {
                asked.TrySetResult();
                return sent.Task;
            }));
        var state = StoredSessions.State("k", 7, 70);
        source.Step(state);

        var checkpoint = coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, StoredSessions.Timeout);
        await asked.Task.WaitAsync(StoredSessions.Timeout);
        // Exported, and waiting for the outputs: the snapshot is not written (a crash now leaves the store without it, so
        // the replayed record is stepped again and its output produced again, instead of answered as a duplicate).
        Assert.Equal([KeyBuckets.BucketOf("k", 8)], source.Exported);
        Assert.Empty(await (await OpenAgainAsync(8)).LoadAsync(["k"], CancellationToken.None));
        Assert.False(checkpoint.IsCompleted);

        sent.SetResult();
        var done = await checkpoint;
        Assert.Equal(1, done.Buckets);
        StoredSessions.AssertBitwiseEqual(state, Assert.Single(await (await OpenAgainAsync(8)).LoadAsync(["k"], CancellationToken.None)));
    }

    [Fact]
    public async Task Outputs_not_sent_in_time_fail_the_bucket_which_is_written_by_a_later_checkpoint_once_they_are()
    {
        var store = await StoredSessions.OpenAsync(Sys, 8);
        var source = new FakeCheckpointSource(store);
        var rounds = new CheckpointRounds(active: true);
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var coordinator = Sys.ActorOf(CheckpointCoordinatorActor.Props(source, store, TimeSpan.Zero, TimeSpan.FromSeconds(5), rounds,
            outputsSent: cancellation => sent.Task.WaitAsync(cancellation), outputsTimeout: TimeSpan.FromMilliseconds(200)));
        var state = StoredSessions.State("k", 3, 30);
        source.Step(state);

        var failure = await Assert.ThrowsAsync<SessionStoreException>(() =>
            coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, StoredSessions.Timeout));
        Assert.Contains("the outputs of the steps it holds were not sent within 0.2 s", failure.Message, StringComparison.Ordinal);
        Assert.True(store.Figures.IsDegraded);
        Assert.Equal(0, rounds.LastCommitted);
        Assert.Empty(await (await OpenAgainAsync(8)).LoadAsync(["k"], CancellationToken.None));

        // The outputs are out: the bucket kept for retry (not dirty any more) is written, after the same wait.
        sent.SetResult();
        var done = await coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, StoredSessions.Timeout);
        Assert.Equal(1, done.Buckets);
        Assert.False(store.Figures.IsDegraded);
        Assert.Equal(2, rounds.LastCommitted);
        StoredSessions.AssertBitwiseEqual(state, Assert.Single(await (await OpenAgainAsync(8)).LoadAsync(["k"], CancellationToken.None)));
    }

    private Task<PersistentSessionStore> OpenAgainAsync(int buckets)
    {
        var region = Sys.ActorOf(BucketRegionActor.Props(TimeSpan.FromMinutes(5)), $"sessions-store-{Guid.NewGuid():N}");
        return PersistentSessionStore.OpenAsync(region, buckets, StoredSessions.Timeout, new SessionStoreFigures(), CancellationToken.None);
    }
}
