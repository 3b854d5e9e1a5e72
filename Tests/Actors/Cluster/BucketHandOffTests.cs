using Akka.Actor;
using LstmStream.Actors.Cluster;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Actors.Persistence;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Tests.Actors.Cluster;

/// <summary>A bucket entity (cluster mode) on a real SQLite snapshot store, with its node's pipeline faked.</summary>
public sealed class BucketHandOffTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-handoff-{Guid.NewGuid():N}");

    private sealed class FakePipeline : IBucketPipeline
    {
        public List<RoutedRecords> Fed { get; } = [];
        public TaskCompletionSource<int> ReleaseAsked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<(int, int)> Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Feed(RoutedRecords records)
        {
            lock (Fed) Fed.Add(records);
        }

        /// <summary>What the entity told of its coming and going, in order ("+b", "-b", "release b").</summary>
        public List<string> Events { get; } = [];

        public void BucketArrived(int bucket)
        {
            lock (Events) Events.Add($"+{bucket}");
        }

        public void BucketLeft(int bucket)
        {
            lock (Events) Events.Add($"-{bucket}");
        }

        public Task<(int Exported, int Freed)> ReleaseAsync(int bucket)
        {
            lock (Events) Events.Add($"release {bucket}");
            ReleaseAsked.TrySetResult(bucket);
            return Released.Task;
        }
    }

    [Fact]
    public async Task A_handed_off_bucket_stops_only_after_its_pipeline_released_the_keys_and_their_state_is_written()
    {
        var location = SessionStoreLocation.Parse(Path.Combine(_folder, "s.db"), _folder);
        var (system, store) = await StoredSessions.OpenAsync(location, 4);
        var pipeline = new FakePipeline();
        var host = new BucketHost(pipeline, new LocalBuckets(4), new HandOffFigures());
        var handedOff = new TaskCompletionSource<HandOffFigures.HandOff>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Figures.OnHandedOff = h => handedOff.TrySetResult(h);
        var bucket = KeyBuckets.BucketOf("a", 4);
        var entity = system.ActorOf(BucketActor.ShardedProps(bucket, host));
        var stopped = entity.WatchAsync();
        var records = new RoutedRecords(bucket, ActorRefs.Nobody, 1, ["a"], [1], [StepFlags.HasSeq], [7], [0.5f]);
        entity.Tell(records);
        await Until(() => host.Entities.Find(bucket) is not null && pipeline.Fed.Count == 1);
        Assert.Same(records, pipeline.Fed[0]);
        Assert.Equal(1, host.Figures.BucketsTakenOver);

        entity.Tell(HandOffBucket.Instance);
        Assert.Equal(bucket, await pipeline.ReleaseAsked.Task.WaitAsync(StoredSessions.Timeout));
        // The pipeline exports the bucket's live keys to the entity (straight, as the store does for a bucket living here:
        // LocalBucketMessagesTests) before the release completes; until then the entity stays.
        var state = StoredSessions.State("a", 3, 1);
        host.Entities.Find(bucket)!.Tell(new ApplyChanges(bucket, [state], []) { Live = true, Changed = 1 });
        await Task.Delay(300);
        Assert.False(stopped.IsCompleted);
        pipeline.Released.SetResult((1, 1));

        Assert.True(await stopped.WaitAsync(StoredSessions.Timeout));
        Assert.Null(host.Entities.Find(bucket));
        Assert.Equal(1, host.Figures.BucketsHandedOff);
        // The node's own records went direct while the entity lived here and not during the hand-off.
        lock (pipeline.Events) Assert.Equal([$"+{bucket}", $"release {bucket}", $"-{bucket}"], pipeline.Events);
        var handOff = await handedOff.Task.WaitAsync(StoredSessions.Timeout);
        Assert.Equal((bucket, 1, 1, 1), (handOff.Bucket, handOff.Freed, handOff.Exported, handOff.StoredKeys));
        await system.Terminate();

        // The next owner (another process life) recovers the written state.
        (system, store) = await StoredSessions.OpenAsync(location, 4);
        StoredSessions.AssertBitwiseEqual(state, Assert.Single(await store.LoadAsync(["a"], CancellationToken.None)));
        await system.Terminate();
    }

    [Fact]
    public async Task A_bucket_stopped_before_its_hand_off_wrote_its_keys_is_counted_as_unfinished_and_one_handed_off_is_not()
    {
        var location = SessionStoreLocation.Parse(Path.Combine(_folder, "s.db"), _folder);
        var (system, _) = await StoredSessions.OpenAsync(location, 4);
        var pipeline = new FakePipeline();
        var host = new BucketHost(pipeline, new LocalBuckets(4), new HandOffFigures());
        var bucket = KeyBuckets.BucketOf("a", 4);
        var entity = system.ActorOf(BucketActor.ShardedProps(bucket, host));
        var stopped = entity.WatchAsync();
        await Until(() => host.Entities.Find(bucket) is not null);

        // The shard's hand-off gives up while the pipeline has not released the keys: the entity is stopped.
        entity.Tell(HandOffBucket.Instance);
        await pipeline.ReleaseAsked.Task.WaitAsync(StoredSessions.Timeout);
        system.Stop(entity);
        Assert.True(await stopped.WaitAsync(StoredSessions.Timeout));
        Assert.Equal(1, host.Figures.HandOffsUnfinished);
        Assert.Equal(0, host.Figures.BucketsHandedOff);

        // A bucket whose hand-off completes is not counted.
        var other = Enumerable.Range(0, 4).First(b => b != bucket);
        var second = system.ActorOf(BucketActor.ShardedProps(other, host));
        var secondStopped = second.WatchAsync();
        await Until(() => host.Entities.Find(other) is not null);
        pipeline.Released.SetResult((0, 0));
        second.Tell(HandOffBucket.Instance);
        Assert.True(await secondStopped.WaitAsync(StoredSessions.Timeout));
        Assert.Equal(1, host.Figures.BucketsHandedOff);
        Assert.Equal(1, host.Figures.HandOffsUnfinished);
        await system.Terminate();
    }

    private static async Task Until(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(StoredSessions.Timeout);
        while (!condition()) await Task.Delay(20, cts.Token);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
