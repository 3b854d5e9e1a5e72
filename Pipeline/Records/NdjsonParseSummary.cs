namespace LstmStream.Pipeline.Records;

/// <summary>
/// Counts of one NDJSON input: <see cref="Lines"/> seen (blank ones included; the last line may lack its
/// newline), of which <see cref="BlankLines"/> were skipped, <see cref="Records"/> were valid and
/// <see cref="Rejected"/> produced a <see cref="RecordError"/>.
/// </summary>
public sealed record NdjsonParseSummary(long Lines, long BlankLines, long Records, long Rejected);
