using System.Diagnostics;
using LstmStream.Benchmarks.Latency;
using LstmStream.Pipeline.Models.Onnx;

namespace LstmStream.Benchmarks.Cluster;

/// <summary>
/// <c>--cluster</c>: the cluster rows of issue 14, through <c>serve</c> processes (<see cref="ServeProcess"/>, the Hosting
/// project's build) on a private PostgreSQL store (always: each measurement gets a new database), sensor model, 1024 keys over 4 TCP connections, every measurement on
/// fresh processes and a new database (a key's state remembers its last seq: a second run would be answered as duplicates),
/// primed with one record of every key (<see cref="Prime"/>):
/// <list type="bullet">
/// <item>cluster mode on one node against off: peak outputs/s, the best of alternating passes (target: at most 10 % cost);</item>
/// <item>the routing hop at 50 % of the off peak, open loop: client p50/p99 and serve's processor time per record with
/// cluster mode off, on one node (the hop through the local shard region) and on two nodes with all load entering the
/// first (the other node's buckets cross loopback, serialized, and their outputs come back);</item>
/// <item>peak outputs/s of 1, 2 and 3 nodes, connections spread over the nodes.</item>
/// </list>
/// </summary>
internal sealed class ClusterBenchmark(BenchmarkOptions options, TextWriter progress)
{
    private const int Keys = 1024;
    private const int Connections = 4;

    private TimeSpan PeakWarmUp => TimeSpan.FromSeconds(options.Quick ? 2 : 3);
    private TimeSpan PeakMeasured => TimeSpan.FromSeconds(options.Quick ? 3 : 5);
    private TimeSpan RateWarmUp => TimeSpan.FromSeconds(options.Quick ? 1 : 2);
    private TimeSpan RateMeasured => TimeSpan.FromSeconds(options.Quick ? 4 : 8);
    private int CostPasses => options.Quick ? 1 : 2;

    public async Task<ClusterReport> RunAsync(MachineInfo machine)
    {
        var report = new ClusterReport { Machine = machine };
        if (!PrivatePostgreSqlServer.IsInstalled)
        {
            report.Notes.Add("not measured: PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin/pg_ctl; Debian's postgresql package)");
            progress.WriteLine("cluster: skipped, PostgreSQL 15 is not installed");
            return report;
        }

        var serve = options.ServeExecutable ?? LatencyBenchmark.BuildHosting(progress);
        progress.WriteLine($"cluster: serve is {serve}");
        var folder = Directory.CreateTempSubdirectory("lstmstream-cluster-bench-").FullName;
        // A private server: every measurement gets a new database of it.
        var postgres = new PrivatePostgreSqlServer();
        try
        {
            await postgres.InitializeAsync();
            progress.WriteLine($"cluster: private PostgreSQL 15 on 127.0.0.1:{postgres.Port}");
            async Task<string> newStore() => await postgres.CreateDatabaseAsync() + ";Timeout=60;Command Timeout=120;Maximum Pool Size=40";

            var sensor = Workload.Sensor();
            var model = Path.Combine(folder, "sensor.onnx");
            OnnxModelWriter.Write(sensor.Model, model);
            var lines = new RecordLines(Keys, sensor.Model.InputSize);
            report.Notes.Add($"sensor model, {Keys} keys over {Connections} TCP connections, backend auto, PostgreSQL session store, checkpoints every hour (none measured); " +
                             $"machine: {Environment.ProcessorCount} vCPUs shared with other jobs (load average at start {machine.LoadAverageStart}): every node, " +
                             "the load generator and PostgreSQL share them");

            // 1. Cluster mode on one node against off: the fastest of alternating passes each (a busy spell only slows one down).
            double off = 0, on = 0;
            for (var pass = 0; pass < CostPasses; pass++)
            {
                using (var alone = ClusterNodes.StartAlone(serve, model, await newStore()))
                    off = Math.Max(off, Peak("cluster off", [alone], lines, report));
                using (var one = ClusterNodes.Start(serve, model, await newStore(), 1))
                    on = Math.Max(on, Peak("cluster on, 1 node", one.Nodes, lines, report));
            }

            report.OneNodeCost = new CostRow { OffOutputsPerSecond = off, OnOutputsPerSecond = on, Passes = CostPasses };
            progress.WriteLine($"cluster: one node costs {report.OneNodeCost.Cost:P1} (off {off:N0}, on {on:N0} outputs/s)");

            // 2. The routing hop at 50 % of the off peak.
            var rate = 0.5 * off;
            using (var alone = ClusterNodes.StartAlone(serve, model, await newStore()))
                report.Hops.Add(Hop("cluster off", [alone], [alone], null, lines, rate));
            using (var one = ClusterNodes.Start(serve, model, await newStore(), 1))
                report.Hops.Add(Hop("cluster on, 1 node (local hop)", one.Nodes, one.Nodes, one, lines, rate));
            using (var two = ClusterNodes.Start(serve, model, await newStore(), 2))
                report.Hops.Add(Hop("cluster on, 2 nodes, all load into node 1", two.Nodes, [two.Nodes[0]], two, lines, rate));

            // 3. Steps/s of 1, 2 and 3 nodes (1: the cost row's pass), load spread over the nodes.
            report.Scale.Add(new ScaleRow { Nodes = 1, OutputsPerSecond = on });
            foreach (var count in new[] { 2, 3 })
            {
                using var nodes = ClusterNodes.Start(serve, model, await newStore(), count);
                var peak = Peak($"cluster on, {count} nodes", nodes.Nodes, lines, report);
                report.Scale.Add(new ScaleRow { Nodes = count, OutputsPerSecond = peak, LiveKeysPerNode = nodes.LiveKeysPerNode() });
            }
        }
        finally
        {
            await postgres.DisposeAsync();
            Directory.Delete(folder, recursive: true);
        }

        report.CheckTargets();
        return report;
    }

    /// <summary>Peak outputs/s with every connection sending as fast as <paramref name="nodes"/> take records (connection c into node c mod count).</summary>
    private double Peak(string setup, IReadOnlyList<ServeProcess> nodes, RecordLines lines, ClusterReport report)
    {
        Prime(setup, nodes, lines);
        progress.WriteLine($"cluster: {setup}: peak ...");
        var cpu0 = ClusterNodes.ProcessorTime(nodes);
        var rows0 = BatchRows(nodes);
        var started = Stopwatch.GetTimestamp();
        var (peak, cpu) = OpenLoopTcpLoad.Peak(nodes.Select(n => n.Tcp).ToList(), lines, Connections, PeakWarmUp, PeakMeasured, null);
        var serveCores = (ClusterNodes.ProcessorTime(nodes) - cpu0).TotalSeconds / Stopwatch.GetElapsedTime(started).TotalSeconds;
        var batchRows = BatchRows(nodes).MeanSince(rows0);
        report.Peaks.Add(new PeakMeasurement
        {
            Setup = setup, Nodes = nodes.Count, OutputsPerSecond = peak, ServeCores = serveCores, GeneratorCores = cpu.GeneratorCores,
            MachineBusyCores = cpu.MachineBusyCores, MeanBatchRows = batchRows,
        });
        progress.WriteLine($"cluster: {setup}: {peak:N0} outputs/s; cores serve {serveCores:F2}, generator {cpu.GeneratorCores:F2}, machine {cpu.MachineBusyCores:F2}; " +
                           $"mean batch {batchRows:F1} rows; load average {MachineInfo.LoadAverage()}");
        return peak;
    }

    /// <summary>
    /// Before a measurement, one record of every key, all answered: every bucket started (in cluster mode its shard
    /// placed) and every key's state looked up in the store, which a fresh process does on first use (seconds on a busy
    /// machine, in the measurement otherwise). The measurement's first record of each key repeats this seq: a duplicate.
    /// </summary>
    private void Prime(string setup, IReadOnlyList<ServeProcess> nodes, RecordLines lines)
    {
        var started = Stopwatch.GetTimestamp();
        var result = OpenLoopTcpLoad.Run(nodes.Select(n => n.Tcp).ToList(), lines, Connections, new OpenLoopSchedule(lines.Keys, TimeSpan.Zero, TimeSpan.FromSeconds(1)));
        progress.WriteLine($"cluster: {setup}: primed, {result.Received:N0} of {result.Expected:N0} keys answered in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
    }

    /// <summary>The micro-batch rows histogram of every node, summed.</summary>
    private static PrometheusBatchRows BatchRows(IEnumerable<ServeProcess> nodes) =>
        nodes.Select(n => PrometheusBatchRows.Parse(n.Scrape())).Aggregate(new PrometheusBatchRows(0, 0), (a, b) => new PrometheusBatchRows(a.Sum + b.Sum, a.Count + b.Count));

    private HopRow Hop(string setup, IReadOnlyList<ServeProcess> nodes, IReadOnlyList<ServeProcess> entry, ClusterNodes? cluster, RecordLines lines, double rate)
    {
        Prime(setup, nodes, lines);
        progress.WriteLine($"cluster: {setup}: {rate:N0} records/s for {(RateWarmUp + RateMeasured).TotalSeconds:F0} s ...");
        var schedule = new OpenLoopSchedule(rate, RateWarmUp, RateMeasured);
        var cpu0 = ClusterNodes.ProcessorTime(nodes);
        var rows0 = BatchRows(nodes);
        var result = OpenLoopTcpLoad.Run(entry.Select(n => n.Tcp).ToList(), lines, Connections, schedule);
        var cpu = ClusterNodes.ProcessorTime(nodes) - cpu0;
        var row = new HopRow
        {
            Setup = setup, Nodes = nodes.Count, OfferedPerSecond = rate, Client = result.Latency, SendLag = result.SendLag,
            ServeMicrosecondsPerRecord = cpu.TotalSeconds * 1e6 / result.Expected, Records = result.Expected, Outputs = result.Received, Errors = result.Errors,
            LiveKeysPerNode = cluster?.LiveKeysPerNode(), MeanBatchRows = BatchRows(nodes).MeanSince(rows0),
        };
        progress.WriteLine($"cluster: {setup}: {row.Client}; serve {row.ServeMicrosecondsPerRecord:F1} µs CPU per record; {row.Outputs:N0} of {row.Records:N0} outputs; mean batch {row.MeanBatchRows:F1} rows; " +
                           $"live keys per node {(row.LiveKeysPerNode is null ? "—" : string.Join("/", row.LiveKeysPerNode))}; load average {MachineInfo.LoadAverage()}");
        return row;
    }
}
