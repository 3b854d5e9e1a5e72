using Akka.Actor;
using LstmStream.Actors.Persistence;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary><see cref="PersistentSessionStore.LoadAsync"/> against buckets that do not answer.</summary>
public sealed class PersistentSessionStoreLoadTests : Akka.TestKit.Xunit2.TestKit
{
    [Fact]
    public async Task A_load_waiting_for_buckets_that_do_not_answer_ends_when_its_token_is_cancelled()
    {
        // The buckets take every load and never answer; the store's own timeout is far away.
        var region = Sys.ActorOf(Props.Create(() => new SilentBuckets(TestActor)));
        var store = await PersistentSessionStore.OpenAsync(region, 16, TimeSpan.FromMinutes(10), new SessionStoreFigures(), CancellationToken.None);
        using var cancel = new CancellationTokenSource();

        var load = store.LoadAsync(Enumerable.Range(0, 64).Select(i => $"key-{i}").ToArray(), cancel.Token);
        ExpectMsg<LoadKeys>();
        Assert.False(load.IsCompleted);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => load);
        Assert.Equal(0, store.Figures.LoadFailures);
    }

    /// <summary>Confirms the bucket count, tells the test of each load, answers none.</summary>
    private sealed class SilentBuckets : ReceiveActor
    {
        public SilentBuckets(IActorRef test)
        {
            Receive<CheckBucketCount>(m => Sender.Tell(new BucketCountConfirmed(m.BucketCount, true)));
            Receive<LoadKeys>(m => test.Tell(m));
        }
    }
}
