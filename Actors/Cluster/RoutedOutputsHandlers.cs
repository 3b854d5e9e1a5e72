using Akka.Actor;

namespace LstmStream.Actors.Cluster;

/// <summary>What a node's <see cref="RoutedOutputsActor"/> does with each message (the node's hub and checkpoint rounds).</summary>
/// <param name="Deliver">Outputs of this node's records and the node (its actor) that stepped them.</param>
/// <param name="OwnerWrote">A node that steps this node's records (its actor) wrote a checkpoint round.</param>
/// <param name="NodeGone">A node was removed from the cluster.</param>
/// <param name="Resend">Records a shard region dropped during a hand-off.</param>
/// <param name="Check">Every <see cref="RoutedOutputsActor.CheckInterval"/>.</param>
public sealed record RoutedOutputsHandlers(
    Action<RoutedOutputs, IActorRef> Deliver,
    Action<IActorRef, long> OwnerWrote,
    Action<Address> NodeGone,
    Action<RoutedRecords> Resend,
    Action Check);
