using LstmStream.Tests.Service;

namespace LstmStream.Tests.Examples;

/// <summary>
/// The Prometheus rules and the Grafana dashboard against a running <c>serve</c> (simulator and a TCP client):
/// every query reads metrics the service really exports, and a real Prometheus server scraping it gets data
/// from every recording rule.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class MonitoringExamplesTests
{
    /// <summary>Series that Prometheus makes itself for every target.</summary>
    private static readonly string[] PrometheusSeries = ["up"];

    [Fact]
    public async Task Every_dashboard_query_reads_metrics_the_service_exports()
    {
        var dashboard = GrafanaDashboard.Load(ExampleFiles.Dashboard);
        Assert.Empty(dashboard.PanelsWithoutQueries);
        await using var service = await MonitoredService.StartAsync();
        var exported = MonitoredService.SampleNames(await MonitoredService.MetricsAsync(service));

        foreach (var query in dashboard.Queries)
        {
            var names = PromQlMetricNames.In(query.Expression);
            Assert.True(names.Count > 0, $"panel '{query.Panel}': no metric in {query.Expression}");
            foreach (var name in names)
                Assert.True(exported.Contains(name) || PrometheusSeries.Contains(name),
                    $"panel '{query.Panel}' reads {name}, which /metrics does not export (query: {query.Expression})");
        }
    }

    [Fact]
    public async Task A_real_Prometheus_scraping_serve_gets_data_from_every_recording_rule_and_evaluates_every_dashboard_query()
    {
        await using var service = await MonitoredService.StartAsync();
        await using var prometheus = await PrometheusServer.StartAsync($"{service.HttpBase.Host}:{service.HttpBase.Port}");

        await prometheus.WaitUntilAsync("scraping the service", async () =>
            (await prometheus.QueryAsync("up{job=\"lstmstream\"} == 1")).Length == 1);

        var rules = ExampleFiles.RecordingRuleNames();
        Assert.NotEmpty(rules);
        foreach (var rule in rules)
            await prometheus.WaitUntilAsync($"returning data for {rule}", async () => (await prometheus.QueryAsync(rule)).Length > 0);

        // The throughput rule counts the simulator's steps; the rejected rule the TCP client's bad line.
        await prometheus.WaitUntilAsync("counting steps", async () =>
            (await prometheus.QueryAsync("instance:lstmstream_steps:rate1m > 0")).Length == 1);
        var rejected = await prometheus.QueryAsync("instance_channel:lstmstream_records_rejected:rate1m");
        Assert.Equal("tcp", Assert.Single(rejected).GetProperty("metric").GetProperty("channel").GetString());
        var received = await prometheus.QueryAsync("instance_channel:lstmstream_records_received:rate1m");
        Assert.Equal(["simulator", "tcp"], received.Select(r => r.GetProperty("metric").GetProperty("channel").GetString()).Order());

        // Every rule (alerts too) evaluates without error.
        var evaluated = await prometheus.RulesAsync();
        Assert.All(evaluated, rule => Assert.True(rule.Health == "ok", $"{rule.Name}: {rule.Health} {rule.Error}"));
        Assert.Superset(rules.ToHashSet(), evaluated.Select(r => r.Name).ToHashSet());

        // The dashboard's queries are valid PromQL on real data.
        foreach (var query in GrafanaDashboard.Load(ExampleFiles.Dashboard).Queries)
        {
            var result = await prometheus.QueryAsync(query.Expanded);
            Assert.True(result.Length > 0, $"panel '{query.Panel}': no data for {query.Expanded}");
        }

        // A running service raises none of the availability alerts (pending or firing); the latency alert may
        // pend on a busy test machine.
        var alerts = await prometheus.QueryAsync(
            "ALERTS{alertname=~\"LstmStreamDown|LstmStreamAbsent|LstmStreamPipelineStalled|LstmStreamHealthDegraded\"}");
        Assert.True(alerts.Length == 0, string.Join("; ", alerts.Select(a => a.GetProperty("metric").ToString())));
    }
}
