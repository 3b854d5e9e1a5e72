using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LstmStream.Benchmarks.Latency;

/// <summary>What <c>--latency</c> measured: a markdown table for the README and the <c>latency</c> section of bench-results.json.</summary>
internal sealed class LatencyReport
{
    /// <summary>The key of this report's section in bench-results.json.</summary>
    public const string JsonKey = "latency";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    [JsonPropertyName("machine")] public required MachineInfo Machine { get; init; }
    [JsonPropertyName("rows")] public List<LatencyRow> Rows { get; } = [];
    [JsonPropertyName("peaks")] public List<PeakRow> Peaks { get; } = [];
    [JsonPropertyName("targets")] public List<LatencyTarget> Targets { get; } = [];
    [JsonPropertyName("notes")] public List<string> Notes { get; } = [];

    /// <summary>The issue's targets (default settings, 2 vCPUs) against this run's figures.</summary>
    public void CheckTargets()
    {
        foreach (var row in Rows.Where(r => r.Transport == "tcp"))
        {
            switch (row.Load)
            {
                case "lone key":
                    Targets.Add(new($"{row.Workload}: lone key at 100 records/s, p99 ≤ 300 µs", Us(row.Client.P99), row.Client.P99 <= 300));
                    break;
                case "50% of peak":
                    Targets.Add(new($"{row.Workload}: 50 % of peak, p99 ≤ 1 ms", Us(row.Client.P99), row.Client.P99 <= 1000));
                    break;
                case "90% of peak":
                    Targets.Add(new($"{row.Workload}: 90 % of peak, p99.9 ≤ 5 ms", Us(row.Client.P999), row.Client.P999 <= 5000));
                    break;
            }
        }

        foreach (var peak in Peaks.Where(p => p.ShareOfStream is not null))
            Targets.Add(new($"{peak.Workload}: peak through serve over TCP ≥ 90 % of the lstmstream-stream row", $"{peak.ShareOfStream:P0}", peak.ShareOfStream >= 0.9));
    }

    public string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine($"Latency: {Machine}, load average at the end {MachineInfo.LoadAverage()}").AppendLine();
        md.AppendLine("| transport | model | keys | connections | load | offered records/s | p50 µs | p99 µs | p99.9 µs | max µs | server p50 / p99 / p99.9 µs | " +
                      "generator late p99 µs | mean batch rows | cores: generator / serve / machine | CPU µs per record: generator (its thread) / serve | outputs |");
        md.AppendLine("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Rows)
        {
            var server = r.Server is { } s ? $"{Us(s.P50)} / {Us(s.P99)} / {Us(s.P999)}" : "—";
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Transport} | {r.Workload} | {r.Keys} | {r.Connections} | {r.Load} | {r.OfferedPerSecond:N0} | {Us(r.Client.P50)} | {Us(r.Client.P99)} | {Us(r.Client.P999)} | {Us(r.Client.Max)} | {server} | {Us(r.SendLag.P99)} | {BatchRows(r.MeanBatchRows)} | {Cores(r.Cpu)} | {PerRecord(r.Cpu, r.OfferedPerSecond, r.GeneratorThreadMicrosecondsPerRecord)} | {r.Outputs:N0} of {r.Records:N0} |");
        }

        md.AppendLine().AppendLine("| transport | model | keys | peak outputs/s through serve | cores: generator / serve / machine | CPU µs per record: generator / serve | lstmstream-stream steps/s (same run) | share | lstmstream-run lines/s (same run) |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var p in Peaks)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {p.Transport} | {p.Workload} | {p.Keys} | {p.OutputsPerSecond:N0} | {Cores(p.Cpu)} | {PerRecord(p.Cpu, p.OutputsPerSecond)} | {Maybe(p.StreamStepsPerSecond)} | {(p.ShareOfStream is { } x ? x.ToString("P0", CultureInfo.InvariantCulture) : "—")} | {Maybe(p.RunLinesPerSecond)} |");
        }

        md.AppendLine();
        foreach (var t in Targets) md.AppendLine(CultureInfo.InvariantCulture, $"- {(t.Met ? "met" : "NOT met")}: {t.Target} (measured {t.Measured})");
        foreach (var note in Notes) md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
        return md.ToString();
    }

    /// <summary>Puts this report into <paramref name="path"/> as its <c>latency</c> section; the rest of the file stays.</summary>
    public void WriteJson(string path)
    {
        Machine.LoadAverageEnd = MachineInfo.LoadAverage();
        WriteSection(path, JsonKey, this);
    }

    /// <summary>Puts <paramref name="section"/> into <paramref name="path"/> under <paramref name="key"/>; the rest of the file stays.</summary>
    public static void WriteSection(string path, string key, object section)
    {
        var document = ReadObject(path) ?? new JsonObject();
        document[key] = JsonSerializer.SerializeToNode(section, section.GetType(), Json);
        File.WriteAllText(path, document.ToJsonString(Json) + "\n");
    }

    /// <summary>The JSON object in <paramref name="path"/>, or null when there is none (or it is not an object).</summary>
    public static JsonObject? ReadObject(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Us(double microseconds) =>
        double.IsNaN(microseconds) ? "—" : microseconds < 10 ? microseconds.ToString("F1", CultureInfo.InvariantCulture) : microseconds.ToString("N0", CultureInfo.InvariantCulture);

    private static string BatchRows(double? rows) => rows is { } r ? r.ToString("F1", CultureInfo.InvariantCulture) : "—";

    private static string Cores(CpuUse? cpu) => cpu is null
        ? "—"
        : string.Create(CultureInfo.InvariantCulture, $"{cpu.GeneratorCores:F2} / {(cpu.ServeCores is { } s ? s.ToString("F2", CultureInfo.InvariantCulture) : "—")} / {cpu.MachineBusyCores:F2}");

    private static string PerRecord(CpuUse? cpu, double recordsPerSecond, double? generatorThread = null)
    {
        if (cpu is null || !(recordsPerSecond > 0)) return "—";
        var (generator, serve) = cpu.MicrosecondsPerRecord(recordsPerSecond);
        var thread = generatorThread is { } t ? string.Create(CultureInfo.InvariantCulture, $" ({t:F1})") : "";
        return string.Create(CultureInfo.InvariantCulture, $"{generator:F1}{thread} / {(serve is { } s ? s.ToString("F1", CultureInfo.InvariantCulture) : "—")}");
    }

    private static string Maybe(double? value) => value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "—";
}
