using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Benchmarks.Cluster;

/// <summary>The rows of <c>--cluster</c> (<see cref="ClusterBenchmark"/>), written as markdown and as the <c>cluster</c> section of the JSON output.</summary>
internal sealed class ClusterReport
{
    public const string JsonKey = "cluster";

    /// <summary>A p99 over this (1 s) means the setup did not keep the offered rate: records queued.</summary>
    private const double UnkeptP99Microseconds = 1e6;

    [JsonPropertyName("machine")] public required MachineInfo Machine { get; init; }
    [JsonPropertyName("one_node_cost")] public CostRow? OneNodeCost { get; set; }
    [JsonPropertyName("hops")] public List<HopRow> Hops { get; } = [];
    [JsonPropertyName("scale")] public List<ScaleRow> Scale { get; } = [];
    [JsonPropertyName("peaks")] public List<PeakMeasurement> Peaks { get; } = [];
    [JsonPropertyName("targets")] public List<LatencyTarget> Targets { get; } = [];
    [JsonPropertyName("notes")] public List<string> Notes { get; } = [];

    /// <summary>Issue 14's targets against this run: one node costs at most 10 %, the routing hop adds at most 1 ms at p99.</summary>
    public void CheckTargets()
    {
        if (OneNodeCost is { } cost)
            Targets.Add(new("cluster mode on one node costs ≤ 10 % of peak outputs/s (sensor, 1024 keys)", cost.Cost.ToString("P1", CultureInfo.InvariantCulture), cost.Cost <= 0.10));
        if (Hops.FirstOrDefault(h => h.Nodes == 1 && !h.Setup.StartsWith("cluster on", StringComparison.Ordinal)) is not { } off) return;
        foreach (var hop in Hops.Where(h => h.Setup.StartsWith("cluster on", StringComparison.Ordinal)))
        {
            var target = $"{hop.Setup}: p99 added by routing at 50 % of peak ≤ 1 ms";
            var added = hop.Client.P99 - off.Client.P99;
            // Without cluster mode the rate must be kept (outputs within a second): else both rows measure a queue, not the hop.
            if (off.Client.P99 > UnkeptP99Microseconds)
                Targets.Add(new(target, $"not judged: cluster off did not keep the rate (p99 {off.Client.P99 / 1e6:F1} s)", false));
            else Targets.Add(new(target, $"{added:F0} µs", added <= 1000));
        }
    }

    public string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine($"Cluster: {Machine}, load average at the end {MachineInfo.LoadAverage()}").AppendLine();
        if (OneNodeCost is { } cost)
        {
            md.AppendLine("| cluster mode, one node | peak outputs/s off | peak outputs/s on | cost | passes (best of) |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            md.AppendLine(CultureInfo.InvariantCulture, $"| sensor, 1024 keys | {cost.OffOutputsPerSecond:N0} | {cost.OnOutputsPerSecond:N0} | {cost.Cost:P1} | {cost.Passes} |");
            md.AppendLine();
        }

        if (Hops.Count > 0)
        {
            md.AppendLine("| routing hop at 50 % of the off peak | offered records/s | p50 µs | p99 µs | p99.9 µs | generator late p99 µs | serve CPU µs per record (all nodes) | mean batch rows | live keys per node | outputs |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
            foreach (var h in Hops)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {h.Setup} | {h.OfferedPerSecond:N0} | {h.Client.P50:F0} | {h.Client.P99:F0} | {h.Client.P999:F0} | {h.SendLag.P99:F0} | {h.ServeMicrosecondsPerRecord:F1} | {Rows(h.MeanBatchRows)} | {Keys(h.LiveKeysPerNode)} | {h.Outputs:N0} of {h.Records:N0} |");
            }

            md.AppendLine();
        }

        if (Scale.Count > 0)
        {
            md.AppendLine("| nodes on this machine | peak outputs/s (steps/s) | × one node | live keys per node |");
            md.AppendLine("|---:|---:|---:|---|");
            var one = Scale[0].OutputsPerSecond;
            foreach (var s in Scale)
                md.AppendLine(CultureInfo.InvariantCulture, $"| {s.Nodes} | {s.OutputsPerSecond:N0} | {(one > 0 ? (s.OutputsPerSecond / one).ToString("F2", CultureInfo.InvariantCulture) : "—")} | {Keys(s.LiveKeysPerNode)} |");
            md.AppendLine();
        }

        if (Peaks.Count > 0)
        {
            md.AppendLine("| peak measurement | nodes | outputs/s | cores: serve (all nodes) / generator / machine | mean batch rows |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var p in Peaks)
                md.AppendLine(CultureInfo.InvariantCulture, $"| {p.Setup} | {p.Nodes} | {p.OutputsPerSecond:N0} | {p.ServeCores:F2} / {p.GeneratorCores:F2} / {p.MachineBusyCores:F2} | {Rows(p.MeanBatchRows)} |");
            md.AppendLine();
        }

        foreach (var t in Targets) md.AppendLine(CultureInfo.InvariantCulture, $"- {(t.Met ? "met" : "NOT met")}: {t.Target} (measured {t.Measured})");
        foreach (var note in Notes) md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
        return md.ToString();
    }

    /// <summary>Puts this report into <paramref name="path"/> as its <c>cluster</c> section; the rest of the file stays.</summary>
    public void WriteJson(string path)
    {
        Machine.LoadAverageEnd = MachineInfo.LoadAverage();
        LatencyReport.WriteSection(path, JsonKey, this);
    }

    private static string Rows(double? rows) => rows is { } r ? r.ToString("F1", CultureInfo.InvariantCulture) : "—";

    private static string Keys(IReadOnlyList<long>? perNode) => perNode is null ? "—" : string.Join(" / ", perNode.Select(k => k.ToString("N0", CultureInfo.InvariantCulture)));
}

/// <summary>Cluster mode on one node against off, peak outputs/s (each the best of <see cref="Passes"/>).</summary>
internal sealed record CostRow
{
    [JsonPropertyName("off_outputs_per_second")] public required double OffOutputsPerSecond { get; init; }
    [JsonPropertyName("on_outputs_per_second")] public required double OnOutputsPerSecond { get; init; }
    [JsonPropertyName("passes")] public required int Passes { get; init; }

    /// <summary>The share of the off peak that cluster mode loses (negative: on was faster).</summary>
    [JsonPropertyName("cost")] public double Cost => 1 - OnOutputsPerSecond / OffOutputsPerSecond;
}

/// <summary>An open-loop run at a fixed rate through one setup: what the routing hop adds.</summary>
internal sealed record HopRow
{
    [JsonPropertyName("setup")] public required string Setup { get; init; }
    [JsonPropertyName("nodes")] public required int Nodes { get; init; }
    [JsonPropertyName("offered_per_second")] public required double OfferedPerSecond { get; init; }
    [JsonPropertyName("client")] public required LatencySummary Client { get; init; }
    [JsonPropertyName("send_lag")] public required LatencySummary SendLag { get; init; }
    [JsonPropertyName("serve_cpu_us_per_record")] public required double ServeMicrosecondsPerRecord { get; init; }
    [JsonPropertyName("records")] public required long Records { get; init; }
    [JsonPropertyName("outputs")] public required long Outputs { get; init; }
    [JsonPropertyName("errors")] public required long Errors { get; init; }
    [JsonPropertyName("live_keys_per_node")] public IReadOnlyList<long>? LiveKeysPerNode { get; init; }
    [JsonPropertyName("mean_batch_rows")] public double? MeanBatchRows { get; init; }
}

/// <summary>Peak outputs/s of a cluster of <see cref="Nodes"/> on this machine.</summary>
internal sealed record ScaleRow
{
    [JsonPropertyName("nodes")] public required int Nodes { get; init; }
    [JsonPropertyName("outputs_per_second")] public required double OutputsPerSecond { get; init; }
    [JsonPropertyName("live_keys_per_node")] public IReadOnlyList<long>? LiveKeysPerNode { get; init; }
}

/// <summary>One peak measurement and the cores used meanwhile.</summary>
internal sealed record PeakMeasurement
{
    [JsonPropertyName("setup")] public required string Setup { get; init; }
    [JsonPropertyName("nodes")] public required int Nodes { get; init; }
    [JsonPropertyName("outputs_per_second")] public required double OutputsPerSecond { get; init; }
    [JsonPropertyName("serve_cores")] public required double ServeCores { get; init; }
    [JsonPropertyName("generator_cores")] public required double GeneratorCores { get; init; }
    [JsonPropertyName("machine_busy_cores")] public required double MachineBusyCores { get; init; }
    [JsonPropertyName("mean_batch_rows")] public double? MeanBatchRows { get; init; }
}
