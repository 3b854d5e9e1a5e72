namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Console</c>: NDJSON records on stdin, outputs on stdout (logs then go to stderr only).</summary>
public sealed class ConsoleChannelSettings
{
    public bool Enabled { get; set; }

    /// <summary>Records read from stdin and not yet written to stdout.</summary>
    public int MaxInFlightRecords { get; set; } = 4096;
}
