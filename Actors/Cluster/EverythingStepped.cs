using Akka.Actor;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// Asked by a node leaving the cluster gracefully, once every bucket it owned is handed off (each one's keys written by
/// its hand-off), of every node whose records it stepped: everything <paramref name="Owner"/> (the leaving node's
/// <see cref="RoutedOutputsActor"/>, the sender of its outputs) stepped for the receiver is in the store, as if it had
/// written a round above every <see cref="RoutedOutputs.OwnerRound"/> it sent. The receiver then does not make its sources
/// deliver again when the node is removed (that is for an owner that died). Answer: <see cref="EverythingSteppedNoted"/>,
/// before which the leaving node does not leave.
/// </summary>
public sealed record EverythingStepped(IActorRef Owner);

/// <summary>The answer to <see cref="EverythingStepped"/>: the receiver no longer waits on that owner.</summary>
public sealed class EverythingSteppedNoted
{
    public static EverythingSteppedNoted Instance { get; } = new();

    private EverythingSteppedNoted()
    {
    }
}
