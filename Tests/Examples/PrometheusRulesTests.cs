namespace LstmStream.Tests.Examples;

/// <summary>The Prometheus examples checked by Prometheus' own tool, promtool (Debian package <c>prometheus</c>).</summary>
public sealed class PrometheusRulesTests
{
    private static string Promtool => ExternalTool.Find("promtool", "prometheus");

    [Fact]
    public Task The_scrape_configuration_is_valid_and_finds_both_rule_files() =>
        PromtoolSucceedsAsync("SUCCESS: 2 rule files found", "check", "config", ExampleFiles.PrometheusConfig);

    [Fact]
    public Task The_recording_and_alert_rules_pass_promtool_check_rules() =>
        PromtoolSucceedsAsync($"SUCCESS: {ExampleFiles.RecordingRuleNames().Count} rules found",
            "check", "rules", ExampleFiles.RecordingRules, ExampleFiles.AlertRules);

    [Fact]
    public Task The_rule_unit_tests_pass_promtool_test_rules() =>
        PromtoolSucceedsAsync("SUCCESS", "test", "rules", ExampleFiles.RuleTests);

    [Fact]
    public void Every_alert_and_recording_rule_has_a_unit_test()
    {
        var tests = File.ReadAllText(ExampleFiles.RuleTests);
        var alerts = File.ReadLines(ExampleFiles.AlertRules).Select(l => l.Trim())
            .Where(l => l.StartsWith("- alert:", StringComparison.Ordinal)).Select(l => l["- alert:".Length..].Trim()).ToList();
        Assert.NotEmpty(alerts);
        Assert.All(alerts, alert => Assert.Contains($"alertname: {alert}\n", tests, StringComparison.Ordinal));
        Assert.All(ExampleFiles.RecordingRuleNames(), rule => Assert.Contains($"- expr: {rule}\n", tests, StringComparison.Ordinal));
    }

    /// <summary>Runs promtool; it must exit 0 and say <paramref name="expected"/>.</summary>
    private static async Task PromtoolSucceedsAsync(string expected, params string[] args)
    {
        var (exit, output) = await ExternalTool.RunAsync(Promtool, args);
        Assert.True(exit == 0, output);
        Assert.Contains(expected, output, StringComparison.Ordinal);
    }
}
