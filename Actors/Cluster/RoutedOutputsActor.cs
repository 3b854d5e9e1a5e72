using Akka.Actor;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// One per node in cluster mode: receives the <see cref="RoutedOutputs"/> of the records this node's channels accepted
/// and hands each batch, in arrival order, to <c>deliver</c> (the node's outbox, which gives every row to its connection).
/// </summary>
public sealed class RoutedOutputsActor : ReceiveActor
{
    public RoutedOutputsActor(Action<RoutedOutputs> deliver)
    {
        Receive<RoutedOutputs>(deliver);
    }

    public static Props Props(Action<RoutedOutputs> deliver) => Akka.Actor.Props.Create(() => new RoutedOutputsActor(deliver));
}
