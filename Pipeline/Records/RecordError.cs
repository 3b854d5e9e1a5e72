namespace LstmStream.Pipeline.Records;

/// <summary>
/// Why one input line was rejected: its 1-based <see cref="Line"/> number, the record's <see cref="Key"/>
/// when it could be read, the <see cref="Field"/> at fault (<c>null</c> when the line as a whole is bad,
/// e.g. not JSON) and a human-readable <see cref="Reason"/>. The line is skipped; every other line goes on.
/// </summary>
public sealed record RecordError(long Line, string? Key, string? Field, string Reason)
{
    /// <summary><c>line N, key 'k', field 'f': reason</c>.</summary>
    public override string ToString()
    {
        var where = Field is null ? "" : $", field '{Field}'";
        var key = Key is null ? "" : $", key '{Key}'";
        return $"line {Line}{key}{where}: {Reason}";
    }
}
