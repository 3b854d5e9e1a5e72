using Akka.Actor;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// One per node in cluster mode (at <see cref="Path"/>): answers <see cref="GetNodeStatus"/> with what only this node
/// knows, the keys live in its pipeline, so that any node can show every node's figures (<c>GET /admin/cluster</c>).
/// </summary>
public sealed class NodeStatusActor : ReceiveActor
{
    /// <summary>The actor's name under <c>/user</c>.</summary>
    public const string Name = "node-status";

    /// <summary>The actor's path on any node.</summary>
    public const string Path = "/user/" + Name;

    public NodeStatusActor(Func<long> liveKeys)
    {
        Receive<GetNodeStatus>(_ => Sender.Tell(new NodeStatus(liveKeys())));
    }

    public static Props Props(Func<long> liveKeys) => Akka.Actor.Props.Create(() => new NodeStatusActor(liveKeys));

    /// <summary>Answer: <see cref="NodeStatus"/>.</summary>
    public sealed record GetNodeStatus
    {
        public static GetNodeStatus Instance { get; } = new();
    }

    /// <param name="LiveKeys">Keys live in the node's pipeline (0 before it runs).</param>
    public sealed record NodeStatus(long LiveKeys);
}
