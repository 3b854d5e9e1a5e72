namespace LstmStream.Pipeline.Records;

/// <summary>What <see cref="NdjsonRecordParser.Parse(ReadOnlySpan{byte}, long, Streaming.StepBatch, out RecordError?)"/> did with one line.</summary>
public enum LineOutcome
{
    /// <summary>The record was valid and appended as a new row.</summary>
    Appended,

    /// <summary>The line was empty or only whitespace: skipped, not an error.</summary>
    Blank,

    /// <summary>The line was rejected; the batch is unchanged and the error says why.</summary>
    Rejected,
}
