namespace LstmStream.Tests.Examples;

/// <summary>The Prometheus examples checked by Prometheus' own tool, promtool (Debian package <c>prometheus</c>).</summary>
public sealed class PrometheusRulesTests
{
    private static string Promtool => ExternalTool.Find("promtool", "prometheus");

    [Fact]
    public async Task The_scrape_configuration_is_valid_and_finds_both_rule_files()
    {
        var (exit, output) = await ExternalTool.RunAsync(Promtool, "check", "config", ExampleFiles.PrometheusConfig);
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS: 2 rule files found", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_recording_and_alert_rules_pass_promtool_check_rules()
    {
        var (exit, output) = await ExternalTool.RunAsync(Promtool, "check", "rules", ExampleFiles.RecordingRules, ExampleFiles.AlertRules);
        Assert.True(exit == 0, output);
        Assert.Contains($"SUCCESS: {ExampleFiles.RecordingRuleNames().Count} rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_rule_unit_tests_pass_promtool_test_rules()
    {
        var (exit, output) = await ExternalTool.RunAsync(Promtool, "test", "rules", ExampleFiles.RuleTests);
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

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
}
