namespace LstmStream.Hosting.Options;

/// <summary>MQTT topic rules (levels split by <c>/</c>, wildcards <c>+</c> and <c>#</c>) as the options and channels need them.</summary>
public static class MqttTopics
{
    /// <summary>Why <paramref name="filter"/> is not a valid subscription filter; null when it is.</summary>
    public static string? FilterProblem(string? filter)
    {
        if (string.IsNullOrEmpty(filter)) return "must not be empty";
        if (filter.Contains('\0')) return "must not contain a NUL character";
        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level == "#" && i != levels.Length - 1) return $"'#' must be the last level of '{filter}'";
            if (level.Length > 1 && (level.Contains('+') || level.Contains('#')))
                return $"level {i} ('{level}') of '{filter}' mixes a wildcard with other characters";
        }

        return null;
    }

    /// <summary>Why <paramref name="topic"/> is not a valid topic to publish to; null when it is.</summary>
    public static string? NameProblem(string? topic)
    {
        if (string.IsNullOrEmpty(topic)) return "must not be empty";
        if (topic.AsSpan().IndexOfAny('+', '#', '\0') >= 0) return $"'{topic}' must not contain '+', '#' or NUL (a topic to publish to has no wildcards)";
        return null;
    }

    /// <summary>True when a message published to <paramref name="topic"/> is delivered to a subscription on <paramref name="filter"/>.</summary>
    public static bool Matches(string filter, string topic)
    {
        var f = filter.Split('/');
        var t = topic.Split('/');
        for (var i = 0; i < f.Length; i++)
        {
            if (f[i] == "#") return true;
            if (i >= t.Length) return false;
            if (f[i] != "+" && f[i] != t[i]) return false;
        }

        return f.Length == t.Length;
    }

    /// <summary>
    /// Level <paramref name="level"/> (0-based) of <paramref name="topic"/>, without allocating; false when the
    /// topic has fewer levels.
    /// </summary>
    public static bool TryGetLevel(ReadOnlySpan<char> topic, int level, out ReadOnlySpan<char> value)
    {
        for (var i = 0; i < level; i++)
        {
            var slash = topic.IndexOf('/');
            if (slash < 0)
            {
                value = default;
                return false;
            }

            topic = topic[(slash + 1)..];
        }

        var end = topic.IndexOf('/');
        value = end < 0 ? topic : topic[..end];
        return true;
    }

    /// <summary>True when <paramref name="key"/> can stand as one level of a topic name (not empty, no <c>/ + #</c> or NUL).</summary>
    public static bool IsValidKeyLevel(ReadOnlySpan<char> key) => !key.IsEmpty && key.IndexOfAny("/+#\0") < 0;
}
