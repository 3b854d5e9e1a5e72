using Akka.Actor;
using Akka.Configuration;
using LstmStream.Actors.Cluster;

namespace LstmStream.Tests.Actors.Cluster;

/// <summary>A node's <see cref="RoutedOutputsActor"/> (cluster mode) handing what reaches it to the node's hub and rounds.</summary>
public sealed class RoutedOutputsActorTests()
    : Akka.TestKit.Xunit2.TestKit(ConfigurationFactory.ParseString(
        "akka.actor.provider = cluster\nakka.remote.dot-netty.tcp.hostname = 127.0.0.1\nakka.remote.dot-netty.tcp.port = 0"))
{
    [Fact]
    public async Task A_leaving_owner_s_everything_stepped_counts_as_a_round_above_all_of_that_owner_and_is_answered()
    {
        var wrote = new List<(IActorRef Owner, long Round)>();
        var handlers = new RoutedOutputsHandlers((_, _) => { }, (owner, round) =>
        {
            lock (wrote) wrote.Add((owner, round));
        }, _ => { }, _ => { }, () => { });
        var actor = Sys.ActorOf(RoutedOutputsActor.Props(handlers));
        var owner = CreateTestProbe().Ref;

        actor.Tell(new CheckpointWritten(3), owner);
        Assert.Same(EverythingSteppedNoted.Instance, await actor.Ask<EverythingSteppedNoted>(new EverythingStepped(owner), TimeSpan.FromSeconds(10)));

        // Named by the message, not by the asker (an ask's sender is a temporary actor).
        lock (wrote) Assert.Equal([(owner, 3L), (owner, long.MaxValue)], wrote);
    }
}
