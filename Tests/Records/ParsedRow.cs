using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Records;

/// <summary>A copy of one row of a <see cref="StepBatch"/>, for comparing what parsers produced.</summary>
internal sealed record ParsedRow(string Key, long Seq, StepFlags Flags, long Tag, float[] X)
{
    public static ParsedRow Of(StepBatch batch, int row) =>
        new(batch.Keys[row], batch.Seq[row], batch.Flags[row], batch.Tags[row], batch.Row(row).ToArray());

    public static List<ParsedRow> AllOf(StepBatch batch) =>
        Enumerable.Range(0, batch.Count).Select(r => Of(batch, r)).ToList();

    public bool Equals(ParsedRow? other) =>
        other is not null && Key == other.Key && Seq == other.Seq && Flags == other.Flags && Tag == other.Tag
        && X.AsSpan().SequenceEqual(other.X);

    public override int GetHashCode() => HashCode.Combine(Key, Seq, Flags, Tag);

    public override string ToString() => $"{Key}/{Seq}/{Flags}/line {Tag}: [{string.Join(",", X)}]";
}
