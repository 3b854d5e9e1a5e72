using System.Text.Json.Nodes;
using LstmStream.Benchmarks;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

public sealed class LatencyReportTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lstmstream-latency-report-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static LatencyRow Row(string load, double p99, double p999) => new()
    {
        Transport = "tcp", Workload = "sensor", Keys = 1024, Connections = 4, Load = load, OfferedPerSecond = 1000, MeasuredSeconds = 8,
        Client = new LatencySummary(8000, 50, p99, p999, p999 + 1), SendLag = new LatencySummary(8000, 1, 2, 3, 4),
        Server = new ServerLatency(8000, 40, 90, 200), Cpu = new CpuUse(0.75, 1.1, 1.98), MeanBatchRows = 12.5, Records = 10_000, Outputs = 10_000, Errors = 0,
    };

    [Fact]
    public void The_latency_section_joins_an_existing_results_file_and_the_targets_are_checked()
    {
        var path = Path.Combine(_directory, "bench-results.json");
        File.WriteAllText(path, "{\"rows\":[{\"engine\":\"lstmstream-stream\"}]}");
        var report = new LatencyReport { Machine = MachineInfo.Read() };
        report.Rows.Add(Row("lone key", p99: 250, p999: 400));
        report.Rows.Add(Row("50% of peak", p99: 1200, p999: 1500));
        report.Rows.Add(Row("90% of peak", p99: 3000, p999: 4000));
        report.Peaks.Add(new PeakRow { Transport = "tcp", Workload = "sensor", Keys = 1024, Connections = 4, OutputsPerSecond = 95, StreamStepsPerSecond = 100 });
        report.CheckTargets();

        report.WriteJson(path);

        Assert.Equal([true, false, true, true], report.Targets.Select(t => t.Met));
        var document = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal("lstmstream-stream", (string)document["rows"]![0]!["engine"]!);
        var latency = document[LatencyReport.JsonKey]!;
        Assert.Equal(3, latency["rows"]!.AsArray().Count);
        Assert.Equal(1200, (double)latency["rows"]![1]!["client"]!["p99_us"]!);
        Assert.Equal(0.95, (double)latency["peaks"]![0]!["share_of_stream"]!, 6);
        Assert.Equal(0.75, (double)latency["rows"]![1]!["cpu"]!["generator_cores"]!, 6);
        Assert.Equal(12.5, (double)latency["rows"]![1]!["mean_batch_rows"]!, 6);
        Assert.Contains("| tcp | sensor | 1024 | 4 | 50% of peak |", report.Markdown());
        // 0.75 cores at 1000 records/s: 750 µs of the generator's processor time per record, 1100 µs of serve's.
        Assert.Contains("| 2.0 | 12.5 | 0.75 / 1.10 / 1.98 | 750.0 / 1100.0 |", report.Markdown());
    }

    [Fact]
    public void The_generator_threads_own_processor_time_per_record_stands_beside_the_whole_processs()
    {
        var report = new LatencyReport { Machine = MachineInfo.Read() };
        report.Rows.Add(Row("50% of peak", p99: 900, p999: 1500) with { GeneratorThreadMicrosecondsPerRecord = 3.26 });

        Assert.Contains("| 0.75 / 1.10 / 1.98 | 750.0 (3.3) / 1100.0 |", report.Markdown());
        var path = Path.Combine(_directory, "bench-results.json");
        report.WriteJson(path);
        Assert.Equal(3.26, (double)JsonNode.Parse(File.ReadAllText(path))![LatencyReport.JsonKey]!["rows"]![0]!["generator_thread_us_per_record"]!, 6);
    }
}
