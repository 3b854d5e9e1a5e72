using System.Text.RegularExpressions;

namespace LstmStream.Tests.Examples;

/// <summary>
/// The metric names a PromQL expression reads: identifiers that are neither functions (followed by a
/// parenthesis), nor keywords, nor inside label matchers, ranges, strings or grouping clauses.
/// </summary>
internal static partial class PromQlMetricNames
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
        "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
        "inf", "nan",
    };

    public static IReadOnlyList<string> In(string expression)
    {
        var text = StringLiteral().Replace(expression, "\"\"");
        text = LabelMatchers().Replace(text, " ");
        text = RangeOrSubquery().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        return Identifier().Matches(text)
            .Where(m => !Keywords.Contains(m.Value.ToLowerInvariant()) && !IsFunctionCall(text, m))
            .Select(m => m.Value)
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    private static bool IsFunctionCall(string text, Match identifier)
    {
        var next = identifier.Index + identifier.Length;
        while (next < text.Length && char.IsWhiteSpace(text[next])) next++;
        return next < text.Length && text[next] == '(';
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex StringLiteral();

    [GeneratedRegex("\\{[^}]*\\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex("\\[[^\\]]*\\]")]
    private static partial Regex RangeOrSubquery();

    [GeneratedRegex("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", RegexOptions.IgnoreCase)]
    private static partial Regex Grouping();

    [GeneratedRegex("(?<![\\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();
}
