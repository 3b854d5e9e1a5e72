using Akka.Actor;
using Akka.TestKit;
using LstmStream.Actors.Cluster;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Actors.Persistence;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Tests.Actors.Cluster;

/// <summary>
/// Cluster mode: the session store sends its pipeline's messages for a bucket whose entity lives on this node straight to
/// that entity, never through the shard region. A checkpoint's or hand-off's export sent through the region could reach the
/// entity after the save that must hold it, or, with the shard being handed off, reach the next owner after it restored
/// the keys from an older snapshot.
/// </summary>
public sealed class LocalBucketMessagesTests : Akka.TestKit.Xunit2.TestKit
{
    private const int Buckets = 8;

    [Fact]
    public async Task A_checkpoint_or_hand_off_export_of_a_bucket_living_here_goes_to_its_entity_in_order_with_the_save_that_follows()
    {
        var (store, region, local) = await OpenAsync();
        var bucket = KeyBuckets.BucketOf("a", Buckets);
        var entity = CreateTestProbe();
        local.Register(bucket, entity.Ref);
        var state = StoredSessions.State("a", 3, 9);

        store.Accept(new SessionChanges([state], [], bucket) { LiveBucket = true, Changed = 1 });
        var save = store.SaveBucketAsync(bucket, CancellationToken.None);

        var export = entity.ExpectMsg<ApplyChanges>();
        Assert.True(export.Live);
        Assert.Equal(1, export.Changed);
        Assert.Same(state, Assert.Single(export.Save));
        entity.ExpectMsg<SaveBucket>(m => m.Bucket == bucket);
        entity.Reply(new BucketSaved(bucket, true, 1, 100));
        Assert.True((await save).Written);
        region.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Loads_changes_and_reads_of_a_bucket_living_here_go_to_its_entity_and_those_of_other_buckets_to_the_region()
    {
        var (store, region, local) = await OpenAsync();
        var here = KeyBuckets.BucketOf("a", Buckets);
        var elsewhereKey = Enumerable.Range(0, 100).Select(i => $"k{i}").First(k => KeyBuckets.BucketOf(k, Buckets) != here);
        var entity = CreateTestProbe();
        local.Register(here, entity.Ref);

        var load = store.LoadAsync(["a"], CancellationToken.None);
        entity.ExpectMsg<LoadKeys>(m => m.Bucket == here);
        entity.Reply(new LoadedKeys(here, []));
        Assert.Empty(await load);

        var read = store.GetStoredAsync("a", CancellationToken.None);
        entity.ExpectMsg<GetStoredKey>(m => m.Key == "a");
        entity.Reply(new StoredKey("a", null));
        Assert.Null(await read);

        store.Accept(new SessionChanges([StoredSessions.State("a", 1, 1), StoredSessions.State(elsewhereKey, 2, 1)], [], null));
        entity.ExpectMsg<ApplyChanges>(m => m.Bucket == here && !m.Live);
        region.ExpectMsg<ApplyChanges>(m => m.Bucket == KeyBuckets.BucketOf(elsewhereKey, Buckets));

        // Once the entity has left this node, the bucket's messages take the region again.
        local.Unregister(here, entity.Ref);
        store.Accept(new SessionChanges([StoredSessions.State("a", 3, 2)], [], here) { LiveBucket = true, Changed = 1 });
        region.ExpectMsg<ApplyChanges>(m => m.Bucket == here && m.Live);
        entity.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    private async Task<(PersistentSessionStore Store, TestProbe Region, LocalBuckets Local)> OpenAsync()
    {
        var region = CreateTestProbe();
        var counter = Sys.ActorOf(Props.Create(() => new CountConfirmer()));
        var local = new LocalBuckets(Buckets);
        var store = await PersistentSessionStore.OpenAsync(region.Ref, Buckets, TimeSpan.FromSeconds(10), new SessionStoreFigures(), CancellationToken.None,
            countRegion: counter, local: local);
        return (store, region, local);
    }

    /// <summary>Confirms the bucket count, as the single-node region does.</summary>
    private sealed class CountConfirmer : ReceiveActor
    {
        public CountConfirmer() => Receive<CheckBucketCount>(m => Sender.Tell(new BucketCountConfirmed(m.BucketCount, true)));
    }
}
