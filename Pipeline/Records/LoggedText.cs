using System.Globalization;
using System.Text;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// Text that came from outside (keys, topics, peer names, excerpts of records) made safe to write into a log:
/// control characters (C0, DEL, C1), Unicode line and paragraph separators, bidirectional overrides and lone
/// surrogates are escaped as <c>\xNN</c> / <c>\uNNNN</c>, a backslash is doubled, and text longer than a limit is
/// cut with its full length noted. So a key cannot forge log lines or move a terminal's cursor, and a megabyte key
/// costs a log line of a hundred characters.
/// </summary>
public static class LoggedText
{
    /// <summary>The default most characters of the text itself that are logged.</summary>
    public const int DefaultMaxChars = 80;

    /// <summary>The most characters of a rejected record's error (key, field and reason) that are logged.</summary>
    public const int RecordMaxChars = 300;

    /// <summary>
    /// <paramref name="text"/> escaped and cut to at most <paramref name="maxChars"/> characters of (escaped) text;
    /// the same string when nothing needs either.
    /// </summary>
    public static string Of(string? text, int maxChars = DefaultMaxChars)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxChars);
        if (text is null) return "(null)";
        if (text.Length <= maxChars && IsPlain(text)) return text;

        var result = new StringBuilder(Math.Min(text.Length, maxChars) + 24);
        int i = 0;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            int before = result.Length;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                result.Append(c).Append(text[i + 1]);
                if (result.Length > maxChars)
                {
                    result.Length = before;
                    break;
                }

                i++;
                continue;
            }

            AppendEscaped(result, c);
            if (result.Length > maxChars)
            {
                result.Length = before;
                break;
            }
        }

        if (i < text.Length) result.Append("…(").Append(text.Length.ToString(CultureInfo.InvariantCulture)).Append(" chars)");
        return result.ToString();
    }

    private static bool IsPlain(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (NeedsEscape(c) || c == '\\') return false;
            if (!char.IsSurrogate(c)) continue;
            if (!char.IsHighSurrogate(c) || i + 1 == text.Length || !char.IsLowSurrogate(text[i + 1])) return false;
            i++;
        }

        return true;
    }

    private static bool NeedsEscape(char c) =>
        c < ' ' || c is >= '\x7f' and <= '\x9f' || c is '\u2028' or '\u2029' || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069';

    private static void AppendEscaped(StringBuilder result, char c)
    {
        if (c == '\\') result.Append("\\\\");
        else if (c <= '\xff' && NeedsEscape(c)) result.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
        else if (NeedsEscape(c) || char.IsSurrogate(c)) result.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        else result.Append(c);
    }
}
