using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The load generator's input records, formatted without allocating: <c>{"key":"k7","seq":N,"x":[…]}\n</c> for NDJSON,
/// <c>{"seq":N,"x":[…]}</c> for an MQTT payload (the key is in the topic). Each key has fixed input values
/// (seeded); <c>seq</c> is the record's number in the schedule, which its output carries back.
/// </summary>
internal sealed class RecordLines
{
    private readonly byte[][] _linePrefix;
    private readonly byte[][] _suffix;

    public RecordLines(int keys, int inputSize)
    {
        Keys = keys;
        var rng = new Random(20261207);
        _linePrefix = new byte[keys][];
        _suffix = new byte[keys][];
        for (var k = 0; k < keys; k++)
        {
            _linePrefix[k] = Encoding.UTF8.GetBytes($"{{\"key\":\"{KeyName(k)}\",\"seq\":");
            var x = string.Join(",", Enumerable.Range(0, inputSize).Select(_ => (rng.NextSingle() * 2 - 1).ToString("0.####", CultureInfo.InvariantCulture)));
            _suffix[k] = Encoding.UTF8.GetBytes($",\"x\":[{x}]}}");
        }

        MaxBytes = _linePrefix.Max(p => p.Length) + 20 + _suffix.Max(s => s.Length) + 1;
    }

    public int Keys { get; }

    /// <summary>
    /// Longest line or payload, in bytes. Computed once: the generator asks for it per record, and a scan of every
    /// key's text per record was, at 1024 keys, most of the generator's processor time.
    /// </summary>
    public int MaxBytes { get; }

    public static string KeyName(int key) => $"k{key}";

    /// <summary>Writes the NDJSON line of record <paramref name="seq"/> of key <paramref name="key"/>; returns its length.</summary>
    public int WriteLine(Span<byte> destination, int key, long seq)
    {
        var n = WriteJson(destination, _linePrefix[key], key, seq);
        destination[n++] = (byte)'\n';
        return n;
    }

    /// <summary>The MQTT payload of record <paramref name="seq"/> of key <paramref name="key"/>.</summary>
    public byte[] Payload(int key, long seq)
    {
        Span<byte> buffer = stackalloc byte[MaxBytes];
        var n = WriteJson(buffer, "{\"seq\":"u8, key, seq);
        return buffer[..n].ToArray();
    }

    private int WriteJson(Span<byte> destination, ReadOnlySpan<byte> prefix, int key, long seq)
    {
        prefix.CopyTo(destination);
        var n = prefix.Length;
        if (!Utf8Formatter.TryFormat(seq, destination[n..], out var written)) throw new ArgumentException("the buffer is too small");
        n += written;
        _suffix[key].CopyTo(destination[n..]);
        return n + _suffix[key].Length;
    }

    /// <summary>The <c>seq</c> of an output line or payload (<c>…"seq":N…</c>), or -1 when it has none.</summary>
    public static long SeqOf(ReadOnlySpan<byte> json)
    {
        var at = json.IndexOf("\"seq\":"u8);
        if (at < 0) return -1;
        return Utf8Parser.TryParse(json[(at + 6)..], out long seq, out _) ? seq : -1;
    }
}
