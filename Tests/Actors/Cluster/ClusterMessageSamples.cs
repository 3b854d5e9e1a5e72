using Akka.Actor;
using LstmStream.Actors.Cluster;
using static LstmStream.Actors.Cluster.NodeStatusActor;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Tests.Actors.Cluster;

/// <summary>A message of each type <see cref="ClusterMessageSerializer"/> is bound to.</summary>
internal static class ClusterMessageSamples
{
    public static object Of(Type type, IActorRef replyTo) => type.Name switch
    {
        nameof(RoutedRecords) => new RoutedRecords(1, replyTo, 2, ["k"], [1], [0], [7], [0.5f, -1f]),
        nameof(RoutedOutputs) => new RoutedOutputs(1, ["k"], [1], [0], [7], [0.25f]) { OwnerRound = 4 },
        nameof(CheckpointWritten) => new CheckpointWritten(5),
        nameof(EverythingStepped) => new EverythingStepped(replyTo),
        nameof(EverythingSteppedNoted) => EverythingSteppedNoted.Instance,
        nameof(LoadKeys) => new LoadKeys(1, ["k"]),
        nameof(LoadedKeys) => new LoadedKeys(1, []),
        nameof(ApplyChanges) => new ApplyChanges(1, [], ["k"]),
        nameof(SaveBucket) => new SaveBucket(1),
        nameof(BucketSaved) => new BucketSaved(1, true, 1, 10),
        nameof(GetStoredKey) => new GetStoredKey(1, "k"),
        nameof(StoredKey) => new StoredKey("k", null),
        nameof(HandOffBucket) => HandOffBucket.Instance,
        nameof(GetNodeStatus) => GetNodeStatus.Instance,
        nameof(NodeStatus) => new NodeStatus(3),
        nameof(GetBucketMemory) => new GetBucketMemory(1),
        nameof(BucketMemory) => new BucketMemory(1, 2, 3),
        _ => throw new InvalidOperationException($"no sample of {type.Name}: add one"),
    };
}
