using System.Buffers;
using System.Globalization;
using System.Text;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// Writes output records as UTF-8 NDJSON, one line per row: <c>{"key":"sensor-7","seq":12,"y":[…]}</c>
/// (<c>seq</c> only when the input carried one, <see cref="StepFlags.HasSeq"/>); a record that was a duplicate
/// (<see cref="StepFlags.Duplicate"/>: its <c>seq</c> was not above its key's last applied one, so it was not
/// applied) as <c>{"key":"sensor-7","seq":12,"duplicate":true}</c>, without <c>y</c>; rejected lines as
/// <c>{"error":"…","line":12,"key":"k","field":"x"}</c> (<c>key</c> and <c>field</c> only when known); commit
/// records (TCP with durable sessions) as <c>{"key":"sensor-7","committed":41}</c>.
/// <para>
/// Floats are printed in their shortest round-trip form (parsing the text gives back the same float, bit for
/// bit, <c>-0</c> included) with an invariant culture, byte for byte as .NET prints them (<c>1E-05</c>, as in
/// the reference cases' expected outputs) but faster (<see cref="ShortestFloatText"/>); a value that
/// is not finite, which JSON cannot hold, is written as <c>null</c>. Strings are JSON-escaped (quote,
/// backslash and control characters), everything else is written as UTF-8. Nothing is allocated per row.
/// </para>
/// </summary>
public static class NdjsonOutputFormatter
{
    /// <summary>The longest text of a float: <c>-1.17549435E-38</c> is 15 bytes.</summary>
    public const int MaxFloatBytes = ShortestFloatText.MaxBytes;

    private const int MaxInt64Bytes = 20;

    private static readonly SearchValues<char> NeedsEscape = SearchValues.Create(
        "\"\\\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F");

    /// <summary>Writes every row of <paramref name="batch"/>, in row order.</summary>
    public static void WriteBatch(StepBatch batch, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(batch);
        for (var r = 0; r < batch.Count; r++) WriteRow(batch, r, output);
    }

    /// <summary>Writes row <paramref name="row"/> of <paramref name="batch"/> as one line, its vector as <c>y</c>.</summary>
    public static void WriteRow(StepBatch batch, int row, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(output);
        if ((uint)row >= (uint)batch.Count) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside the batch's {batch.Count} rows");

        var key = batch.Keys[row];
        var y = batch.Row(row);
        var dest = output.GetSpan(32 + MaxInt64Bytes + MaxStringBytes(key.Length) + y.Length * (MaxFloatBytes + 1));

        int n = Append(dest, 0, "{\"key\":"u8);
        n += WriteString(key, dest[n..]);
        if ((batch.Flags[row] & StepFlags.HasSeq) != 0)
        {
            n = Append(dest, n, ",\"seq\":"u8);
            batch.Seq[row].TryFormat(dest[n..], out int written, default, CultureInfo.InvariantCulture);
            n += written;
        }

        if ((batch.Flags[row] & StepFlags.Duplicate) != 0)
        {
            n = Append(dest, n, ",\"duplicate\":true}\n"u8);
            output.Advance(n);
            return;
        }

        n = Append(dest, n, ",\"y\":["u8);
        for (var i = 0; i < y.Length; i++)
        {
            if (i > 0) dest[n++] = (byte)',';
            n += WriteFloat(y[i], dest[n..]);
        }

        n = Append(dest, n, "]}\n"u8);
        output.Advance(n);
    }

    /// <summary>Writes <paramref name="error"/> as one line (with its newline).</summary>
    public static void WriteError(RecordError error, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(output);
        int max = 64 + MaxInt64Bytes + MaxStringBytes(error.Reason.Length) + MaxStringBytes(error.Key?.Length ?? 0)
                  + MaxStringBytes(error.Field?.Length ?? 0);
        var dest = output.GetSpan(max);

        int n = Append(dest, 0, "{\"error\":"u8);
        n += WriteString(error.Reason, dest[n..]);
        n = Append(dest, n, ",\"line\":"u8);
        error.Line.TryFormat(dest[n..], out int written, default, CultureInfo.InvariantCulture);
        n += written;
        if (error.Key is not null)
        {
            n = Append(dest, n, ",\"key\":"u8);
            n += WriteString(error.Key, dest[n..]);
        }

        if (error.Field is not null)
        {
            n = Append(dest, n, ",\"field\":"u8);
            n += WriteString(error.Field, dest[n..]);
        }

        n = Append(dest, n, "}\n"u8);
        output.Advance(n);
    }

    /// <summary>
    /// Writes a commit record, <c>{"key":"sensor-7","committed":41}</c> (with its newline): the session store holds
    /// <paramref name="key"/>'s state with every record up to <c>seq</c> <paramref name="seq"/> applied (TCP, durable sessions).
    /// </summary>
    public static void WriteCommit(string key, long seq, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(output);
        var dest = output.GetSpan(24 + MaxInt64Bytes + MaxStringBytes(key.Length));
        int n = Append(dest, 0, "{\"key\":"u8);
        n += WriteString(key, dest[n..]);
        n = Append(dest, n, ",\"committed\":"u8);
        seq.TryFormat(dest[n..], out int written, default, CultureInfo.InvariantCulture);
        n = Append(dest, n + written, "}\n"u8);
        output.Advance(n);
    }

    /// <summary><paramref name="error"/> as one JSON line, without the newline (for a <see cref="TextWriter"/>).</summary>
    public static string FormatError(RecordError error)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        WriteError(error, buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan[..^1]);
    }

    /// <summary>
    /// Writes <paramref name="value"/> in shortest round-trip form (<c>null</c> when not finite) and returns the
    /// number of bytes written; <paramref name="destination"/> needs <see cref="MaxFloatBytes"/> bytes.
    /// </summary>
    public static int WriteFloat(float value, Span<byte> destination)
    {
        if (!float.IsFinite(value))
        {
            "null"u8.CopyTo(destination);
            return 4;
        }

        return ShortestFloatText.Write(value, destination);
    }

    /// <summary>The most bytes <see cref="WriteString"/> writes for a string of <paramref name="chars"/> UTF-16 chars.</summary>
    public static int MaxStringBytes(int chars) => 2 + 6 * chars;

    /// <summary>
    /// Writes <paramref name="value"/> as a quoted JSON string and returns the number of bytes written;
    /// <paramref name="destination"/> needs <see cref="MaxStringBytes"/> bytes. Quote, backslash and control
    /// characters are escaped; a lone surrogate becomes U+FFFD.
    /// </summary>
    public static int WriteString(ReadOnlySpan<char> value, Span<byte> destination)
    {
        destination[0] = (byte)'"';
        int n = 1;
        while (!value.IsEmpty)
        {
            int special = value.IndexOfAny(NeedsEscape);
            var plain = special < 0 ? value : value[..special];
            if (!plain.IsEmpty) n += Encoding.UTF8.GetBytes(plain, destination[n..]);
            if (special < 0) break;

            char c = value[special];
            destination[n++] = (byte)'\\';
            switch (c)
            {
                case '"': destination[n++] = (byte)'"'; break;
                case '\\': destination[n++] = (byte)'\\'; break;
                case '\n': destination[n++] = (byte)'n'; break;
                case '\r': destination[n++] = (byte)'r'; break;
                case '\t': destination[n++] = (byte)'t'; break;
                case '\b': destination[n++] = (byte)'b'; break;
                case '\f': destination[n++] = (byte)'f'; break;
                default:
                    destination[n++] = (byte)'u';
                    destination[n++] = (byte)'0';
                    destination[n++] = (byte)'0';
                    destination[n++] = HexDigit(c >> 4);
                    destination[n++] = HexDigit(c & 0xF);
                    break;
            }

            value = value[(special + 1)..];
        }

        destination[n++] = (byte)'"';
        return n;
    }

    private static byte HexDigit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);

    private static int Append(Span<byte> destination, int at, ReadOnlySpan<byte> text)
    {
        text.CopyTo(destination[at..]);
        return at + text.Length;
    }
}
