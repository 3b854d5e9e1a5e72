using Akka.Actor;
using Akka.Streams;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>
/// The pipeline over the real store (a SQLite file) with checkpoints: after a checkpoint the bucket actors hold the
/// states of the evicted keys only (the live ones by name), and keys evicted to the store and restored give bitwise the
/// outputs of a run without eviction.
/// </summary>
public sealed class LiveKeyPipelineTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private const int Buckets = 4;
    private readonly string _folder;
    private readonly SessionStoreLocation _location;

    public LiveKeyPipelineTests() : this(Path.Combine(Path.GetTempPath(), $"lstmstream-live-pipeline-{Guid.NewGuid():N}"))
    {
    }

    private LiveKeyPipelineTests(string folder) : this(folder, SessionStoreLocation.Parse(Path.Combine(folder, "sessions.db"), folder))
    {
    }

    private LiveKeyPipelineTests(string folder, SessionStoreLocation location) : base(SessionStoreConfig.For(location))
    {
        _folder = folder;
        _location = location;
    }

    [Fact]
    public async Task After_a_checkpoint_the_buckets_hold_only_the_evicted_keys_and_restored_keys_continue_bitwise()
    {
        var rng = new Random(31);
        var model = RandomModel(rng, 5, [6, 4], HeadActivation.Relu, peepholes: true);
        var steps = InterleavedSteps(rng, keys: 40, maxSteps: 10, width: 5);
        await _location.PrepareAsync(CancellationToken.None);
        var store = await StoredSessions.OpenAsync(Sys, Buckets);
        var region = await Sys.ActorSelection("/user/sessions-store").ResolveOne(Wait);
        var run = RunningPipeline.Start(this, Sys.Materializer(), model, new PipelineOptions
        {
            MaxBatchRows = 8,
            MaxBatchDelay = TimeSpan.FromMilliseconds(2),
            MaxLiveKeys = 8,
            SessionStore = store,
        });
        var coordinator = Sys.ActorOf(CheckpointCoordinatorActor.Props(new PipelineCheckpointSource(run.Handle.State), store, TimeSpan.Zero,
            TimeSpan.FromSeconds(5)));
        var half = steps.Count / 2;
        var first = steps.Take(half).ToList();
        var outputs = await run.SendAndCollectAsync(Fragments(first, 5, rng, 8), first.Count);

        var done = await coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, Wait);
        Assert.True(done.Buckets > 0);
        var memory = new List<BucketProtocol.BucketMemory>();
        for (var bucket = 0; bucket < Buckets; bucket++)
            memory.Add(await region.Ask<BucketProtocol.BucketMemory>(new BucketProtocol.GetBucketMemory(bucket), Wait));
        var counts = run.Handle.Sessions.Snapshot();
        Assert.True(counts.EvictedToStore > 0, "no key was evicted to the store");
        Assert.Equal(counts.LiveKeys, memory.Sum(m => m.LiveKeys));
        Assert.Equal(first.Select(s => s.Key).Distinct().Count() - counts.LiveKeys, memory.Sum(m => m.HeldStates));

        var rest = steps.Skip(half).ToList();
        outputs.AddRange(await run.SendAndCollectAsync(Fragments(rest, 5, rng, 8), rest.Count));
        Assert.True(run.Handle.Sessions.Snapshot().Restored > 0, "no key came back from the store");
        AssertMatchesReference(steps, outputs, Reference(model, steps));
        await run.CompleteAsync();
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
