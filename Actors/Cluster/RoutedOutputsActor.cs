using Akka.Actor;
using Akka.Cluster;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// One per node in cluster mode: receives the <see cref="RoutedOutputs"/> of the records this node's channels accepted
/// and hands each batch, in arrival order, with the node that stepped them (the sender: that node's own actor of this kind)
/// to <c>deliver</c> (the node's outbox, which gives every row to its connection); hands the rounds those nodes wrote
/// (<see cref="CheckpointWritten"/>, same sender; <see cref="EverythingStepped"/> from a node leaving, as a round above all,
/// answered) to <c>ownerWrote</c>, and a node's removal from the cluster (it left or was
/// downed: it writes nothing more) to <c>nodeGone</c>; takes back the <see cref="RoutedRecords"/> of this node that a shard
/// region dropped during a hand-off (<see cref="DroppedRecordsActor"/>) and hands them to <c>resend</c>; and every
/// <see cref="CheckInterval"/> calls <c>check</c> (envelopes whose owner died are given up).
/// </summary>
public sealed class RoutedOutputsActor : ReceiveActor, IWithTimers
{
    /// <summary>How often envelopes in flight are checked for an owner that died with them.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);

    public RoutedOutputsActor(RoutedOutputsHandlers handlers)
    {
        Receive<RoutedOutputs>(outputs => handlers.Deliver(outputs, Sender));
        Receive<CheckpointWritten>(written => handlers.OwnerWrote(Sender, written.Round));
        Receive<EverythingStepped>(stepped =>
        {
            // As a round above every one the owner stamped: nothing it stepped for this node is waited for any more.
            handlers.OwnerWrote(stepped.Owner, long.MaxValue);
            Sender.Tell(EverythingSteppedNoted.Instance);
        });
        Receive<ClusterEvent.MemberRemoved>(removed => handlers.NodeGone(removed.Member.Address));
        Receive<RoutedRecords>(handlers.Resend);
        Receive<Check>(_ => handlers.Check());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(RoutedOutputsHandlers handlers) => Akka.Actor.Props.Create(() => new RoutedOutputsActor(handlers));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(nameof(Check), Check.Instance, CheckInterval);
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private sealed class Check
    {
        public static Check Instance { get; } = new();
    }
}
