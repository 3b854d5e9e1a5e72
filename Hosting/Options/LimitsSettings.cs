using LstmStream.Pipeline.Records;

namespace LstmStream.Hosting.Options;

/// <summary>
/// <c>LstmStream:Limits</c>: the input limits of every channel of <c>serve</c> (TCP lines, stdin lines, MQTT payloads,
/// the simulator's lines), with the same defaults as the <c>run</c> verb's <c>--max-line-bytes</c> and
/// <c>--max-key-bytes</c>. A record over a limit is answered with an error record naming its length and the limit.
/// </summary>
public sealed class LimitsSettings
{
    /// <summary>The smallest line limit accepted: room for a record of a few values.</summary>
    public const int MinLineBytes = 64;

    /// <summary>Longest input line (TCP, stdin) or MQTT payload, in bytes; default 1 MiB.</summary>
    public int MaxLineBytes { get; set; } = NdjsonBatchDecoder.DefaultMaxLineBytes;

    /// <summary>Longest key in UTF-8 bytes (from a record's <c>key</c> or an MQTT topic level); default 256.</summary>
    public int MaxKeyBytes { get; set; } = NdjsonRecordParser.DefaultMaxKeyBytes;
}
