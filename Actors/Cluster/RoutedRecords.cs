using Akka.Actor;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// Records of one bucket accepted by a node's channels, on their way (through the shard region) to the node that owns
/// the bucket, whose pipeline steps them. Row <c>r</c> is <c>Keys[r]</c>, <c>Seq[r]</c>, <c>Flags[r]</c>, <c>Tags[r]</c>
/// (the accepting connection's tag, handed back untouched with the output) and the <paramref name="Width"/> floats
/// <c>Data[r × Width ..]</c>. The outputs go back to <paramref name="ReplyTo"/> as <see cref="RoutedOutputs"/>, in the
/// order the records were stepped (input order per key).
/// </summary>
public sealed record RoutedRecords(int Bucket, IActorRef ReplyTo, int Width, string[] Keys, long[] Seq, StepFlags[] Flags, long[] Tags, float[] Data)
    : IBucketMessage
{
    public int Count => Keys.Length;
}
