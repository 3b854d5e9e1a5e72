using System.Diagnostics;
using System.Xml.Linq;
using LstmStream.Benchmarks;

namespace LstmStream.Tests.Benchmarks;

/// <summary>The benchmark chart: an SVG with a panel per workload and thread count that an SVG renderer draws.</summary>
public sealed class ThroughputChartTests : IDisposable
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private readonly string _directory = Directory.CreateTempSubdirectory("lstmstream-chart-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_chart_lies_beside_the_json_results()
    {
        Assert.Equal(Path.Combine("out", "bench-results.svg"), ThroughputChart.PathBeside(Path.Combine("out", "bench-results.json")));
    }

    [Fact]
    public async Task Every_workload_and_thread_count_gets_a_panel_with_every_engine_and_the_ceiling()
    {
        var rows = Rows();
        var path = Path.Combine(_directory, "bench-results.svg");

        var panels = ThroughputChart.Write(rows, "test chart", path);

        Assert.Equal(4, panels);
        var svg = XDocument.Load(path);
        var texts = svg.Descendants(Svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("test chart", texts);
        Assert.Contains("seed, 1 thread", texts);
        Assert.Contains("seed, 2 threads", texts);
        Assert.Contains("wide, 1 thread", texts);
        Assert.Contains("wide, 2 threads", texts);
        // The legend names every engine once, and the ceiling.
        foreach (var engine in new[] { "lstmstream-core", "lstmstream-stream", "lstmstream-run", "onnxruntime-batched", "onnxruntime-per-key", "GEMM ceiling" })
            Assert.Equal(1, texts.Count(t => t == engine));
        // Key counts on every panel's axis, log-scale labels abbreviated.
        Assert.Equal(4, texts.Count(t => t == "4,096"));
        Assert.Contains("1M", texts);

        // A real SVG renderer draws it.
        var png = Path.Combine(_directory, "chart.png");
        var convert = Examples.ExternalTool.Find("rsvg-convert", "librsvg2-bin");
        var (exit, output) = await Examples.ExternalTool.RunAsync(convert, "--format=png", "--output", png, path);
        Assert.True(exit == 0, output);
        Assert.True(new FileInfo(png).Length > 10_000, "the rendered chart is nearly empty");
    }

    [Fact]
    public void Abbreviated_axis_labels_keep_their_magnitude()
    {
        Assert.Equal(["10", "1k", "1k", "2.5M", "1G"], new[] { 10, 1000, 999.99999999, 2_500_000, 1e9 }.Select(ThroughputChart.Abbreviate));
    }

    /// <summary>Two workloads, two thread counts, four key counts, every engine (run only at 1,024 keys and 1 thread).</summary>
    private static List<ResultRow> Rows()
    {
        var rows = new List<ResultRow>();
        foreach (var (workload, scale) in new[] { ("seed", 100.0), ("wide", 1.0) })
        foreach (var threads in new[] { 1, 2 })
        foreach (var keys in new[] { 1, 64, 1024, 4096 })
        {
            var ceiling = scale * 1000 * Math.Min(keys, 256) * threads;
            Add(Engines.Ceiling, ceiling);
            Add(Engines.Core, ceiling * 0.9);
            Add(Engines.Stream, ceiling * 0.8);
            if (keys == 1024 && threads == 1) Add(Engines.Run, ceiling * 0.6);
            Add(Engines.OrtBatched, ceiling * 0.5);
            Add(Engines.OrtPerKey, scale * 900);

            void Add(string engine, double stepsPerSecond) => rows.Add(new ResultRow
            {
                Workload = workload, Keys = keys, Engine = engine, Backend = "managed", Threads = threads,
                StepsPerSecond = stepsPerSecond, Gflops = 0, AllocatedBytesPerStep = 0, StepsTimed = 1000,
            });
        }

        return rows;
    }
}
