using System.Diagnostics;
using Akka.Streams;
using LstmStream.Pipeline.Models.Onnx;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// <c>--latency</c>: latency under live load through <c>serve</c> run as its own process (the Hosting project's
/// build, default settings), measured open-loop (<see cref="OpenLoopSchedule"/>) over NDJSON/TCP and MQTT, with the
/// machine's floor (an echo server's round trip) and the in-process throughput rows of the same run beside it.
/// </summary>
internal sealed class LatencyBenchmark(BenchmarkOptions options, IMaterializer materializer, TextWriter progress)
{
    private const int Connections = 4;
    private const double LoneKeyRate = 100;

    private TimeSpan PeakWarmUp => TimeSpan.FromSeconds(options.Quick ? 2 : 3);
    private TimeSpan PeakMeasured => TimeSpan.FromSeconds(options.Quick ? 3 : 5);
    private TimeSpan RateWarmUp => TimeSpan.FromSeconds(options.Quick ? 1 : 2);
    private TimeSpan RateMeasured => TimeSpan.FromSeconds(options.Quick ? 4 : 8);
    private TimeSpan LoneMeasured => TimeSpan.FromSeconds(options.Quick ? 5 : 20);

    public LatencyReport Run(MachineInfo machine)
    {
        var report = new LatencyReport { Machine = machine };
        // The floor alone (--latency-floor) needs no serve.
        var serve = options.LatencyFloor ? "" : options.ServeExecutable ?? BuildHosting(progress);
        if (!options.LatencyFloor) progress.WriteLine($"latency: serve is {serve}");
        var folder = Directory.CreateTempSubdirectory("lstmstream-latency-").FullName;
        try
        {
            var sensor = Workload.Sensor();
            var seed = Workload.Seed();
            report.Notes.Add($"TCP load generator: {OpenLoopTcpLoad.Method(Connections, options.SendGap)}");
            if (options.LatencyPeak is { } givenPeak)
            {
                // Only the share rows, at rates taken of the given peak: two builds or settings compared at the same offered load.
                var workload = new[] { sensor, seed }.Single(w => options.Workloads.Contains(w.Name));
                if (options.LatencyFloor)
                {
                    report.Notes.Add($"--latency-floor: the echo server at shares of a given peak of {givenPeak:N0} outputs/s and a lone key; serve not measured");
                    MeasureFloor(report, workload, KeysOf(workload, sensor), givenPeak);
                    return Checked(report);
                }

                report.Notes.Add(options.LatencyLone
                    ? $"--latency-peak --latency-lone: shares of a given peak of {givenPeak:N0} outputs/s and a lone key (its echo floor first); peak, in-process rows, the floor under load and MQTT not measured"
                    : $"--latency-peak: shares of a given peak of {givenPeak:N0} outputs/s; peak, in-process rows, lone key, floors and MQTT not measured");
                if (options.LatencyLone) MeasureEcho(report, workload, 1, "lone key", LoneKeyRate, LoneMeasured);
                MeasureShares(report, serve, folder, workload, KeysOf(workload, sensor), givenPeak, measurePeak: false, stream: null, run: null);
                return Checked(report);
            }

            var (stream, run) = InProcessRows(sensor);
            report.Notes.Add($"in-process rows of this run (sensor, 1024 keys, 1 thread): lstmstream-stream {stream:N0} steps/s, lstmstream-run {run:N0} lines/s");

            MeasureEcho(report, sensor, 1, "lone key", LoneKeyRate, LoneMeasured);

            var sensorPeak = MeasureShares(report, serve, folder, sensor, KeysOf(sensor, sensor), null, measurePeak: true, stream, run);
            MeasureShares(report, serve, folder, seed, KeysOf(seed, sensor), null, measurePeak: true, null, null);

            // The floor under load: the echo server at the sensor's 50 % rate, same connections.
            MeasureEcho(report, sensor, 1024, "50% of peak", 0.5 * sensorPeak, RateMeasured);

            MeasureMqtt(report, serve, Path.Combine(folder, "sensor.onnx"), sensor);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        return Checked(report);
    }

    /// <summary><c>--latency-floor</c>: the echo server at a lone key and at each share of a given peak.</summary>
    /// <remarks>
    /// The lone key three times: as in the full run (the echo's thread and the generator's both sleep until woken),
    /// with an echo that spins on its reads, and with both spinning; the steps between the three are what waking a
    /// sleeping thread costs on this machine, the last is the loopback round trip alone.
    /// </remarks>
    private void MeasureFloor(LatencyReport report, Workload workload, int keys, double peak)
    {
        MeasureEcho(report, workload, 1, "lone key", LoneKeyRate, LoneMeasured);
        MeasureEcho(report, workload, 1, "lone key", LoneKeyRate, LoneMeasured, busyPoll: true);
        MeasureEcho(report, workload, 1, "lone key", LoneKeyRate, LoneMeasured, busyPoll: true, SpinningClock.Instance);
        foreach (var percent in options.LatencyShares) MeasureEcho(report, workload, keys, $"{percent}% of peak", percent / 100.0 * peak, RateMeasured);
    }

    /// <summary>One row of the floor: the echo server (no engine) behind the same generator, a fresh server per row.</summary>
    private void MeasureEcho(LatencyReport report, Workload workload, int keys, string load, double rate, TimeSpan measured, bool busyPoll = false,
        IOpenLoopClock? clock = null)
    {
        using var echo = new EchoServer(busyPoll);
        var lines = new RecordLines(keys, workload.Model.InputSize);
        var connections = keys == 1 ? 1 : Connections;
        var transport = (busyPoll, clock) switch
        {
            (false, null) => "tcp echo (floor)",
            (true, null) => "tcp echo (floor, echo spins)",
            _ => "tcp echo (floor, both spin)",
        };
        report.Rows.Add(Measure(transport, workload.Name, lines, connections, load, rate, RateWarmUp, measured,
            s => OpenLoopTcpLoad.Run([echo.Endpoint], lines, connections, s, options.SendGap, clock), null));
    }

    private static LatencyReport Checked(LatencyReport report)
    {
        report.CheckTargets();
        return report;
    }

    /// <summary>The key counts: 1024 keys of the sensor model, 64 of the seed model.</summary>
    private static int KeysOf(Workload workload, Workload sensor) => workload == sensor ? 1024 : 64;

    /// <summary>
    /// One model through its own serve process: the peak (measured, or <paramref name="givenPeak"/>), the shares of it
    /// (<c>--latency-shares</c>) and, with a measured peak, a lone key. Returns the peak.
    /// </summary>
    private double MeasureShares(LatencyReport report, string serve, string folder, Workload workload, int keys, double? givenPeak, bool measurePeak,
        double? stream, double? run)
    {
        var model = Path.Combine(folder, $"{workload.Name}.onnx");
        OnnxModelWriter.Write(workload.Model, model);
        using var server = ServeProcess.Start(serve, model);
        var lines = new RecordLines(keys, workload.Model.InputSize);
        var peak = givenPeak ?? 0;
        if (measurePeak)
        {
            progress.WriteLine($"latency: {workload.Name}, {keys} keys over {Connections} TCP connections: peak ...");
            (peak, var peakCpu) = OpenLoopTcpLoad.Peak(server.Tcp, lines, Connections, PeakWarmUp, PeakMeasured, server.Process);
            progress.WriteLine($"latency: {workload.Name} peak through serve {peak:N0} outputs/s; cores generator {peakCpu.GeneratorCores:F2}, " +
                               $"serve {peakCpu.ServeCores:F2}, machine {peakCpu.MachineBusyCores:F2}");
            report.Peaks.Add(new PeakRow
            {
                Transport = "tcp", Workload = workload.Name, Keys = keys, Connections = Connections, OutputsPerSecond = peak, Cpu = peakCpu,
                StreamStepsPerSecond = stream, RunLinesPerSecond = run,
            });
        }
        else
        {
            // The first records of a fresh process run its JIT and create the sessions: an unmeasured load first, at full
            // speed as the measured peak of a full run is (a second at 10 % of the peak left the runtime still compiling
            // the hot path in its tiers through the first measured row: a third of serve's processor time in the JIT).
            OpenLoopTcpLoad.Peak(server.Tcp, lines, Connections, PeakWarmUp, TimeSpan.FromSeconds(1), server.Process);
        }

        foreach (var percent in options.LatencyShares)
        {
            report.Rows.Add(Measure("tcp", workload.Name, lines, Connections, $"{percent}% of peak", percent / 100.0 * peak, RateWarmUp, RateMeasured,
                s => OpenLoopTcpLoad.Run(server.Tcp, lines, Connections, s, options.SendGap), server));
        }

        if (measurePeak || options.LatencyLone)
        {
            var lone = new RecordLines(1, workload.Model.InputSize);
            report.Rows.Add(Measure("tcp", workload.Name, lone, 1, "lone key", LoneKeyRate, RateWarmUp, LoneMeasured,
                s => OpenLoopTcpLoad.Run(server.Tcp, lone, 1, s, options.SendGap), server));
        }

        return peak;
    }

    private void MeasureMqtt(LatencyReport report, string serve, string model, Workload sensor)
    {
        if (MosquittoProcess.Executable() is null)
        {
            report.Notes.Add("MQTT not measured: mosquitto is not installed (apt-get install mosquitto)");
            progress.WriteLine("latency: MQTT skipped, mosquitto is not installed");
            return;
        }

        using var broker = MosquittoProcess.Start();
        using var server = ServeProcess.Start(serve, model, "--LstmStream:Mqtt:Enabled=true", $"--LstmStream:Mqtt:Client:Host={broker.Host}",
            $"--LstmStream:Mqtt:Client:Port={broker.Port}", $"--LstmStream:Mqtt:Client:ClientId=lstmstream-bench-{Environment.ProcessId}");
        var load = OpenLoopMqttLoad.ConnectAsync(broker.Host, broker.Port).GetAwaiter().GetResult();
        try
        {
            var lines = new RecordLines(1024, sensor.Model.InputSize);
            load.WaitUntilServedAsync(lines, TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
            progress.WriteLine("latency: sensor, 1024 keys over MQTT: peak ...");
            var peak = load.Peak(lines, PeakWarmUp, PeakMeasured);
            progress.WriteLine($"latency: sensor peak through mosquitto and serve {peak:N0} outputs/s");
            report.Peaks.Add(new PeakRow { Transport = "mqtt", Workload = sensor.Name, Keys = 1024, Connections = 1, OutputsPerSecond = peak });
            report.Rows.Add(Measure("mqtt", sensor.Name, lines, 1, "50% of peak", 0.5 * peak, RateWarmUp, RateMeasured, s => load.Run(lines, s), server));
            var lone = new RecordLines(1, sensor.Model.InputSize);
            report.Rows.Add(Measure("mqtt", sensor.Name, lone, 1, "lone key", LoneKeyRate, RateWarmUp, LoneMeasured, s => load.Run(lone, s), server));
        }
        finally
        {
            load.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private LatencyRow Measure(string transport, string workload, RecordLines lines, int connections, string load, double rate,
        TimeSpan warmUp, TimeSpan measured, Func<OpenLoopSchedule, OpenLoopTcpLoad.Result> run, ServeProcess? server)
    {
        progress.WriteLine($"latency: {transport}, {workload}, {lines.Keys} keys, {load}: {rate:N0} records/s for {(warmUp + measured).TotalSeconds:F0} s ...");
        var channel = transport == "mqtt" ? "mqtt" : "tcp";
        // The server's histogram, its batch sizes and the processor time over the measured records only: sampled once
        // the first measured record is due (the warm-up records are answered by then, or their wait counts).
        var schedule = new OpenLoopSchedule(rate, warmUp, measured);
        Sampled? before = null;
        var sampler = new Thread(() =>
        {
            MonotonicClock.Instance.WaitUntil(schedule.DueAt(schedule.WarmUpRecords));
            before = Sampled.Take(server);
        }) { IsBackground = true };
        sampler.Start();
        var result = run(schedule);
        sampler.Join();
        var after = Sampled.Take(server);
        var serverLatency = server is null ? null : PrometheusLatency.Parse(after.Metrics!, channel).Minus(PrometheusLatency.Parse(before!.Metrics!, channel)).Summary();
        var row = new LatencyRow
        {
            Transport = transport, Workload = workload, Keys = lines.Keys, Connections = connections, Load = load, OfferedPerSecond = rate,
            MeasuredSeconds = measured.TotalSeconds, Client = result.Latency, SendLag = result.SendLag, FromWrite = result.FromWrite, Server = serverLatency,
            Cpu = after.Cpu.Since(before!.Cpu),
            GeneratorThreadMicrosecondsPerRecord = result.GeneratorThreadCpu is { } thread ? thread.TotalMicroseconds / result.Expected : null,
            MeanBatchRows = server is null ? null : PrometheusBatchRows.Parse(after.Metrics!).MeanSince(PrometheusBatchRows.Parse(before.Metrics!)),
            Records = result.Expected, Outputs = result.Received, Errors = result.Errors,
        };
        var perRecord = row.Cpu.MicrosecondsPerRecord(rate);
        var serverText = serverLatency is null ? "" : $"server p50 {serverLatency.P50:F0} µs, p99 {serverLatency.P99:F0} µs; ";
        progress.WriteLine($"latency: {transport}, {workload}, {load}: {row.Client}; {serverText}{row.Outputs:N0} of {row.Records:N0} outputs; " +
                           $"send lag p99 {row.SendLag.P99:F0} µs; {FromWriteText(row.FromWrite)}cores generator {row.Cpu.GeneratorCores:F2}, serve {row.Cpu.ServeCores:F2}, " +
                           $"CPU µs per record generator {perRecord.Generator:F1} (its thread {row.GeneratorThreadMicrosecondsPerRecord:F1}), serve {perRecord.Serve:F1}; " +
                           $"machine {row.Cpu.MachineBusyCores:F2}; mean batch {row.MeanBatchRows:F1} rows; load average {MachineInfo.LoadAverage()}");
        return row;
    }

    private static string FromWriteText(LatencySummary? fromWrite) =>
        fromWrite is { Count: > 0 } w ? $"from the generator's write p50 {w.P50:F0} µs, p99 {w.P99:F0} µs, p99.9 {w.P999:F0} µs; " : "";

    /// <summary>Processor time and (with a server) its metrics text at one instant.</summary>
    private sealed record Sampled(CpuSample Cpu, string? Metrics)
    {
        public static Sampled Take(ServeProcess? server) => new(CpuSample.Take(server?.Process), server?.Scrape());
    }

    /// <summary>The lstmstream-stream and lstmstream-run rows of the sensor model at 1024 keys, 1 thread, measured now.</summary>
    private (double Stream, double Run) InProcessRows(Workload sensor)
    {
        const int keys = 1024;
        var chosen = MatMulBackendRegistry.CreateForModel(MatMulBackendRegistry.Auto, 1, sensor.Model);
        var all = chosen.Layers.Concat(chosen.Head is null ? [] : [chosen.Head]).ToList();
        var engine = new StreamEngine(sensor.Model, all, new InputRounds(keys, sensor.Model.InputSize), materializer);
        ProcessWarmUp.Run(sensor, materializer, TimeSpan.FromSeconds(options.Quick ? 1 : 2));
        // A busy spell of the shared machine only ever slows a pass down: the fastest of three counts.
        var best = double.MaxValue;
        for (var pass = 0; pass < 3; pass++)
        {
            using var running = engine.Start();
            best = Math.Min(best, Benchmarks.Measure.Run(running.Run, options.Measure, allThreads: true, () => running.Produced).SecondsPerStep);
        }

        var stream = 1 / best;
        progress.WriteLine($"latency: lstmstream-stream (sensor, {keys} keys, 1 thread) {stream:N0} steps/s");
        var run = RunThroughput.Measure(sensor, options.Quick ? 100_000 : 300_000, 1, options.TempPrefix, materializer).LinesPerSecond;
        progress.WriteLine($"latency: lstmstream-run (sensor) {run:N0} lines/s");
        return (stream, run);
    }

    /// <summary>Builds the Hosting project (Release) and returns its executable, so the measured serve is this tree's.</summary>
    internal static string BuildHosting(TextWriter progress)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "LstmStream.sln")))
            root = Path.GetDirectoryName(root.TrimEnd('/')) ?? throw new InvalidOperationException("the repository root (LstmStream.sln) was not found above the benchmark; pass --serve PATH");
        var project = Path.Combine(root, "Hosting", "LstmStream.Hosting.csproj");
        progress.WriteLine($"building {project} (Release) ...");
        var start = new ProcessStartInfo("dotnet", ["build", project, "-c", "Release", "-nologo", "-v", "q"]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var build = Process.Start(start)!;
        var output = build.StandardOutput.ReadToEnd();
        build.WaitForExit();
        if (build.ExitCode != 0) throw new InvalidOperationException($"building the Hosting project failed:\n{output}");
        var executable = Path.Combine(root, "Hosting", "bin", "Release", "net10.0", "lstmstream");
        return File.Exists(executable) ? executable : executable + ".dll";
    }
}
