using Akka.Actor;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>A stand-in for another node's <c>RoutedOutputsActor</c>: only its path (address and incarnation) matters.</summary>
internal sealed class OwnerActorRef(Address node, long incarnation) : MinimalActorRef
{
    public override ActorPath Path { get; } = (new RootActorPath(node) / "user" / "routed-outputs").WithUid(incarnation);

    public override IActorRefProvider Provider => throw new NotSupportedException("a stand-in has no provider");
}
