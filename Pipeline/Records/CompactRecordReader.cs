using System.Buffers.Text;
using System.Runtime.CompilerServices;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// The fast path of <see cref="NdjsonRecordParser"/>: reads a record in the compact form that machines write,
/// <c>{"key":"sensor-7","seq":12,"x":[0.1,-2.5e-3],"reset":false,"end":true}</c>, without a general JSON
/// reader. Fields may come in any order, <c>seq</c>, <c>reset</c> and <c>end</c> may be left out; the key is
/// printable ASCII without escapes, <c>seq</c> an integer of at most 18 digits, the flags <c>true</c> or
/// <c>false</c>, and there is no whitespace and nothing after the object.
/// <para>
/// It answers only what it is sure of: any other line, valid or not (whitespace, escapes, other fields, a
/// field twice, <c>null</c>, a wrong count of values, a value that is not a finite float, bad JSON), gives
/// false, and the general reader then parses the whole line and decides, with its error messages. A line it
/// accepts gives the same row as the general reader would. Numbers are parsed exactly: a decimal of at most
/// 2^24 in its digits and a power of ten of at most 10 either way is one correctly rounded float division or
/// multiplication of two exact floats; any other number goes to <see cref="Utf8Parser"/>, as the general
/// reader's <c>TryGetSingle</c> does.
/// </para>
/// </summary>
internal static class CompactRecordReader
{
    /// <summary>The longest integer part of <c>seq</c>, in digits: 18 always fits a <see cref="long"/>.</summary>
    private const int MaxSeqDigits = 18;

    /// <summary>The largest decimal mantissa that is an exact float: 2^24.</summary>
    private const ulong MaxExactMantissa = 1 << 24;

    /// <summary>10^0 … 10^10, all exact floats (5^10 &lt; 2^24).</summary>
    private static readonly float[] ExactPowersOfTen = [1f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f];

    /// <summary>
    /// Reads <paramref name="line"/> when it is a complete valid record in the compact form: the key's bytes (a
    /// range of the line), <c>seq</c> (0 when absent), the flags (<see cref="StepFlags.HasSeq"/> when <c>seq</c>
    /// was given) and every value of <c>x</c> into <paramref name="x"/>, whose length must match. False for any
    /// other line; <paramref name="x"/> may then hold some values.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> line, Span<float> x, out Range key, out long seq, out StepFlags flags)
    {
        key = default;
        seq = 0;
        flags = StepFlags.None;
        if (line.Length < 2 || line[0] != (byte)'{' || line[^1] != (byte)'}') return false;

        bool sawKey = false, sawX = false, sawSeq = false, sawReset = false, sawEnd = false;
        int at = 1;
        while (true)
        {
            // "name": — a field name is one of the five, directly followed by its colon.
            if (at >= line.Length || line[at] != (byte)'"') return false;
            var rest = line[(at + 1)..];
            if (rest.StartsWith("key\":"u8))
            {
                if (sawKey) return false;
                sawKey = true;
                at += 6;
                if (!TryReadKey(line, ref at, out key)) return false;
            }
            else if (rest.StartsWith("x\":"u8))
            {
                if (sawX) return false;
                sawX = true;
                at += 4;
                if (!TryReadVector(line, ref at, x)) return false;
            }
            else if (rest.StartsWith("seq\":"u8))
            {
                if (sawSeq) return false;
                sawSeq = true;
                at += 6;
                if (!TryReadSeq(line, ref at, out seq)) return false;
                flags |= StepFlags.HasSeq;
            }
            else if (rest.StartsWith("reset\":"u8))
            {
                if (sawReset) return false;
                sawReset = true;
                at += 8;
                if (!TryReadFlag(line, ref at, StepFlags.Reset, ref flags)) return false;
            }
            else if (rest.StartsWith("end\":"u8))
            {
                if (sawEnd) return false;
                sawEnd = true;
                at += 6;
                if (!TryReadFlag(line, ref at, StepFlags.End, ref flags)) return false;
            }
            else
            {
                return false;
            }

            if (at >= line.Length) return false;
            if (line[at] == (byte)',')
            {
                at++;
                continue;
            }

            // The object's closing brace must end the line.
            return line[at] == (byte)'}' && at == line.Length - 1 && sawKey && sawX;
        }
    }

    /// <summary>A non-empty string of printable ASCII other than quote and backslash; <paramref name="at"/> on its opening quote.</summary>
    private static bool TryReadKey(ReadOnlySpan<byte> line, ref int at, out Range key)
    {
        key = default;
        if (at >= line.Length || line[at] != (byte)'"') return false;
        int start = at + 1;
        int length = line[start..].IndexOfAnyExcept(PlainKeyBytes);
        // Stops at the closing quote only: a backslash, a control character or a non-ASCII byte is left to the general reader.
        if (length <= 0 || line[start + length] != (byte)'"') return false;
        key = start..(start + length);
        at = start + length + 1;
        return true;
    }

    /// <summary>Printable ASCII but the quote and the backslash.</summary>
    private static readonly System.Buffers.SearchValues<byte> PlainKeyBytes = System.Buffers.SearchValues.Create(
        Enumerable.Range(0x20, 0x7F - 0x20).Where(b => b != '"' && b != '\\').Select(b => (byte)b).ToArray());

    private static bool TryReadVector(ReadOnlySpan<byte> line, ref int at, Span<float> x)
    {
        if (at >= line.Length || line[at] != (byte)'[') return false;
        at++;
        for (int i = 0; i < x.Length; i++)
        {
            if (!TryReadNumber(line, ref at, out x[i])) return false;
            if (at >= line.Length) return false;
            byte next = line[at++];
            if (next == (byte)']') return i == x.Length - 1;
            if (next != (byte)',') return false;
        }

        return false; // more values than the model takes (or an empty x when it takes none)
    }

    /// <summary>
    /// A JSON number at <paramref name="at"/> as the float it rounds to; false when it is not a JSON number or not
    /// a finite float. <paramref name="at"/> ends after the number.
    /// </summary>
    internal static bool TryReadNumber(ReadOnlySpan<byte> text, ref int at, out float value)
    {
        value = 0;
        int start = at;
        int i = at;
        bool negative = false;
        if (i < text.Length && text[i] == (byte)'-')
        {
            negative = true;
            i++;
        }

        // Every digit goes into the mantissa (leading zeros add nothing); past 19 digits it is no longer exact and
        // only the count matters: Utf8Parser then decides.
        ulong mantissa = 0;
        int digits = 0;
        uint digit;
        if (i >= text.Length || (digit = (uint)(text[i] - '0')) > 9) return false;
        if (digit == 0)
        {
            i++; // a leading 0 stands alone
        }
        else
        {
            do
            {
                mantissa = mantissa * 10 + digit;
                digits++;
                i++;
            } while (i < text.Length && (digit = (uint)(text[i] - '0')) <= 9);
        }

        int exponent = 0;
        if (i < text.Length && text[i] == (byte)'.')
        {
            int first = ++i;
            while (i < text.Length && (digit = (uint)(text[i] - '0')) <= 9)
            {
                mantissa = mantissa * 10 + digit;
                i++;
            }

            if (i == first) return false;
            digits += i - first;
            exponent = first - i;
        }

        if (i < text.Length && (text[i] | 0x20) == (byte)'e')
        {
            i++;
            bool negativeExponent = false;
            if (i < text.Length && (text[i] == (byte)'+' || text[i] == (byte)'-'))
            {
                negativeExponent = text[i] == (byte)'-';
                i++;
            }

            int first = i, written = 0;
            while (i < text.Length && (digit = (uint)(text[i] - '0')) <= 9)
            {
                // Beyond 9 digits the exponent is far outside the exact range anyway.
                if (i - first < 9) written = written * 10 + (int)digit;
                i++;
            }

            if (i == first) return false;
            if (i - first >= 9) written = int.MaxValue / 2;
            exponent += negativeExponent ? -written : written;
        }

        at = i;
        if (digits <= 19 && mantissa <= MaxExactMantissa && exponent >= -10 && exponent <= 10)
        {
            float magnitude = exponent >= 0 ? mantissa * ExactPowersOfTen[exponent] : mantissa / ExactPowersOfTen[-exponent];
            value = negative ? -magnitude : magnitude;
            return true;
        }

        return Utf8Parser.TryParse(text[start..i], out value, out int consumed) && consumed == i - start && float.IsFinite(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    private static bool TryReadSeq(ReadOnlySpan<byte> line, ref int at, out long seq)
    {
        seq = 0;
        int i = at;
        bool negative = i < line.Length && line[i] == (byte)'-';
        if (negative) i++;
        int first = i;
        if (i >= line.Length || !IsDigit(line[i])) return false;
        if (line[i] == (byte)'0')
        {
            i++;
        }
        else
        {
            while (i < line.Length && IsDigit(line[i]))
            {
                if (i - first == MaxSeqDigits) return false;
                seq = seq * 10 + (line[i++] - '0');
            }
        }

        // A fraction or an exponent: not an integer as written; the general reader decides.
        if (i < line.Length && (line[i] == (byte)'.' || (line[i] | 0x20) == (byte)'e')) return false;
        if (negative) seq = -seq;
        at = i;
        return true;
    }

    private static bool TryReadFlag(ReadOnlySpan<byte> line, ref int at, StepFlags flag, ref StepFlags flags)
    {
        var rest = line[at..];
        if (rest.StartsWith("true"u8))
        {
            flags |= flag;
            at += 4;
            return true;
        }

        if (rest.StartsWith("false"u8))
        {
            at += 5;
            return true;
        }

        return false;
    }
}
