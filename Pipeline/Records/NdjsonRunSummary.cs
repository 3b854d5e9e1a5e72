namespace LstmStream.Pipeline.Records;

/// <summary>
/// What an <see cref="NdjsonRunner"/> run did: input lines read (blank ones included), records parsed and
/// handed to the model, lines rejected (each reported as an error record) and output records written.
/// </summary>
public sealed record NdjsonRunSummary(long LinesRead, long RecordsParsed, long RecordsRejected, long RecordsOut)
{
    /// <summary>True when any line was rejected: a command-line caller then exits non-zero.</summary>
    public bool AnyRejected => RecordsRejected > 0;
}
