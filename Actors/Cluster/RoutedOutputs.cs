using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// Outputs of <see cref="RoutedRecords"/> on their way back from the node that stepped them to the node whose
/// connections accepted them: row <c>r</c> is <c>Keys[r]</c>, <c>Seq[r]</c>, <c>Flags[r]</c>, the accepting connection's
/// <c>Tags[r]</c> and the <paramref name="Width"/> output floats <c>Data[r × Width ..]</c>, in the order they were stepped.
/// Sent by the stepping node's <see cref="RoutedOutputsActor"/> (the sender names the owner).
/// </summary>
public sealed record RoutedOutputs(int Width, string[] Keys, long[] Seq, StepFlags[] Flags, long[] Tags, float[] Data)
{
    public int Count => Keys.Length;

    /// <summary>
    /// The stepping node's checkpoint rounds begun when these outputs came out of its pipeline: the records are in the
    /// store once it has written a round above this (<see cref="CheckpointWritten"/>; <c>CheckpointRounds.RoutedDelivered</c>).
    /// </summary>
    public long OwnerRound { get; init; }
}
