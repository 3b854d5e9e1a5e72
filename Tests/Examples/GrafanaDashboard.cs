using System.Text.Json;

namespace LstmStream.Tests.Examples;

/// <summary>The queries of <c>examples/grafana/lstmstream-dashboard.json</c>: every panel's targets and the variables.</summary>
internal sealed record GrafanaDashboard(IReadOnlyList<GrafanaDashboard.Query> Queries, IReadOnlyList<string> PanelsWithoutQueries)
{
    public sealed record Query(string Panel, string Expression)
    {
        /// <summary>
        /// The expression as Grafana sends it with every instance selected: <c>$__rate_interval</c> becomes 1m,
        /// <c>$job</c> and <c>$instance</c> match anything.
        /// </summary>
        public string Expanded => Expression
            .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
            .Replace("$job", ".*", StringComparison.Ordinal)
            .Replace("$instance", ".*", StringComparison.Ordinal);
    }

    public static GrafanaDashboard Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var root = document.RootElement;
        var queries = new List<Query>();
        var empty = new List<string>();
        foreach (var panel in Panels(root.GetProperty("panels")))
        {
            var title = panel.GetProperty("title").GetString()!;
            if (panel.GetProperty("type").GetString() == "row") continue;
            var expressions = panel.TryGetProperty("targets", out var targets)
                ? targets.EnumerateArray().Select(t => t.GetProperty("expr").GetString()!).ToList()
                : [];
            if (expressions.Count == 0) empty.Add(title);
            queries.AddRange(expressions.Select(e => new Query(title, e)));
        }

        foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            if (variable.GetProperty("type").GetString() != "query") continue;
            var query = variable.GetProperty("query").GetProperty("query").GetString()!;
            // label_values(SELECTOR, label): the selector is the query.
            var selector = query["label_values(".Length..query.LastIndexOf(',')];
            queries.Add(new Query($"variable {variable.GetProperty("name").GetString()}", selector));
        }

        return new GrafanaDashboard(queries, empty);
    }

    private static IEnumerable<JsonElement> Panels(JsonElement panels)
    {
        foreach (var panel in panels.EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out var nested))
                foreach (var inner in Panels(nested)) yield return inner;
        }
    }
}
