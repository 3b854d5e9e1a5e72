using LstmStream.Tests.Support;

namespace LstmStream.Tests.Examples;

/// <summary>The operations examples shipped in <c>examples/</c>.</summary>
internal static class ExampleFiles
{
    public static string Directory => Path.Combine(SharedData.RepositoryRoot, "examples");

    public static string Prometheus => Path.Combine(Directory, "prometheus");

    public static string PrometheusConfig => Path.Combine(Prometheus, "prometheus.yml");

    public static string RecordingRules => Path.Combine(Prometheus, "lstmstream.rules.yml");

    public static string AlertRules => Path.Combine(Prometheus, "lstmstream.alerts.yml");

    public static string RuleTests => Path.Combine(Prometheus, "lstmstream.rules.test.yml");

    public static string Dashboard => Path.Combine(Directory, "grafana", "lstmstream-dashboard.json");

    public static string SystemdUnit => Path.Combine(Directory, "systemd", "lstmstream.service");

    /// <summary>The names of the recording rules (<c>- record: NAME</c> lines; commented ones do not count).</summary>
    public static IReadOnlyList<string> RecordingRuleNames() =>
        File.ReadLines(RecordingRules)
            .Select(line => line.Trim())
            .Where(line => line.StartsWith("- record:", StringComparison.Ordinal))
            .Select(line => line["- record:".Length..].Trim())
            .ToList();
}
