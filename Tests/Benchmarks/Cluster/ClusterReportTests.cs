using System.Text.Json.Nodes;
using LstmStream.Benchmarks;
using LstmStream.Benchmarks.Cluster;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Cluster;

public sealed class ClusterReportTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lstmstream-cluster-report-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static HopRow Hop(string setup, int nodes, double p99) => new()
    {
        Setup = setup, Nodes = nodes, OfferedPerSecond = 10_000, Client = new LatencySummary(80_000, 300, p99, p99 + 100, p99 + 200),
        SendLag = new LatencySummary(80_000, 1, 2, 3, 4), ServeMicrosecondsPerRecord = 25, Records = 100_000, Outputs = 100_000, Errors = 0,
    };

    [Fact]
    public void The_cluster_section_joins_an_existing_results_file_and_the_targets_are_checked()
    {
        var path = Path.Combine(_directory, "bench-results.json");
        File.WriteAllText(path, "{\"latency\":{\"rows\":[]}}");
        var report = new ClusterReport { Machine = MachineInfo.Read(), OneNodeCost = new CostRow { OffOutputsPerSecond = 100_000, OnOutputsPerSecond = 88_000, Passes = 2 } };
        report.Hops.Add(Hop("cluster off", 1, p99: 900));
        report.Hops.Add(Hop("cluster on, 1 node (local hop)", 1, p99: 1500));
        report.Hops.Add(Hop("cluster on, 2 nodes, all load into node 1", 2, p99: 2500));
        report.Scale.Add(new ScaleRow { Nodes = 1, OutputsPerSecond = 88_000 });
        report.Scale.Add(new ScaleRow { Nodes = 2, OutputsPerSecond = 70_000, LiveKeysPerNode = [500, 524] });
        report.CheckTargets();

        report.WriteJson(path);

        // 12 % cost: not met; 600 µs added: met; 1,600 µs added: not met.
        Assert.Equal([false, true, false], report.Targets.Select(t => t.Met));
        Assert.Equal(0.12, report.OneNodeCost!.Cost, 6);
        var document = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.NotNull(document["latency"]);
        var cluster = document[ClusterReport.JsonKey]!;
        Assert.Equal(3, cluster["hops"]!.AsArray().Count);
        Assert.Equal(524, (long)cluster["scale"]![1]!["live_keys_per_node"]![1]!);
        var markdown = report.Markdown();
        Assert.Contains("| 2 | 70,000 | 0.80 | 500 / 524 |", markdown, StringComparison.Ordinal);
        Assert.Contains("NOT met: cluster mode on one node costs", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void The_hop_is_not_judged_when_cluster_off_did_not_keep_the_rate()
    {
        var report = new ClusterReport { Machine = MachineInfo.Read() };
        report.Hops.Add(Hop("cluster off", 1, p99: 22_000_000));
        report.Hops.Add(Hop("cluster on, 1 node (local hop)", 1, p99: 19_000_000));
        report.CheckTargets();

        var target = Assert.Single(report.Targets);
        Assert.False(target.Met);
        Assert.StartsWith("not judged", target.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void The_cluster_option_selects_only_the_cluster_rows()
    {
        Assert.True(BenchmarkOptions.Parse(["--cluster", "--quick"]).Cluster);
        Assert.False(BenchmarkOptions.Parse([]).Cluster);
        Assert.Contains("--cluster", BenchmarkOptions.Usage, StringComparison.Ordinal);
    }
}
