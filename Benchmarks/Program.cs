using Akka.Actor;
using Akka.Configuration;
using Akka.Streams;
using LstmStream.Benchmarks;

BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchmarkOptions.Usage);
    return 2;
}

if (options.Help)
{
    Console.WriteLine(BenchmarkOptions.Usage);
    return 0;
}

var progress = new ProgressWriter(Console.Error);
var machine = MachineInfo.Read();
progress.WriteLine(machine);

using var system = ActorSystem.Create("lstmstream-bench", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
using var materializer = ActorMaterializer.Create(system);

if (options.Latency)
{
    var latency = new LstmStream.Benchmarks.Latency.LatencyBenchmark(options, materializer, progress).Run(machine);
    Console.Out.Write(latency.Markdown());
    latency.WriteJson(options.Out);
    progress.WriteLine($"wrote {Path.GetFullPath(options.Out)} (section {LstmStream.Benchmarks.Latency.LatencyReport.JsonKey})");
    await system.Terminate();
    return 0;
}

if (options.Cluster)
{
    var cluster = await new LstmStream.Benchmarks.Cluster.ClusterBenchmark(options, progress).RunAsync(machine);
    Console.Out.Write(cluster.Markdown());
    cluster.WriteJson(options.Out);
    progress.WriteLine($"wrote {Path.GetFullPath(options.Out)} (section {LstmStream.Benchmarks.Cluster.ClusterReport.JsonKey})");
    await system.Terminate();
    return 0;
}

var suite = new BenchmarkSuite(options, materializer, progress);
var workloads = options.Workloads.Select(Workload.ByName).ToList();
// --store-only: the session store rows need the sensor workload, whatever --workload says.
if (options.StoreOnly && workloads.All(w => w.Name != "sensor")) workloads.Add(Workload.ByName("sensor"));
if (!options.TcpOnly) ProcessWarmUp.Run(workloads[0], materializer, TimeSpan.FromSeconds(options.Quick ? 1 : 2));
foreach (var workload in options.TcpOnly || options.StoreOnly ? [] : workloads)
{
    progress.WriteLine($"workload {workload.Name}: {workload.Describe()}, {workload.FlopsPerStep:N0} flop per step");
    suite.Run(workload);
}

var runs = new List<RunThroughput.Result>();
if (options.RunThroughput && !options.TcpOnly && !options.StoreOnly)
{
    foreach (var workload in workloads.Where(w => w.Name is "seed" or "sensor"))
    {
        progress.WriteLine($"run throughput: {workload.Name}, {options.RunLines:N0} lines");
        var run = RunThroughput.Measure(workload, options.RunLines, options.RunRepetitions, options.TempPrefix, materializer);
        runs.Add(run);
        suite.Rows.Add(new ResultRow
        {
            Workload = workload.Name,
            Keys = run.Keys,
            Engine = Engines.Run,
            Backend = "NDJSON in/out, " + BackendSummary(run.Backend),
            Threads = 1,
            StepsPerSecond = run.LinesPerSecond,
            Gflops = run.LinesPerSecond * workload.FlopsPerStep / 1e9,
            AllocatedBytesPerStep = run.AllocatedBytesPerLine,
            StepsTimed = run.Lines * options.RunRepetitions,
        });
        progress.WriteLine($"run throughput: {workload.Name} {run.LinesPerSecond:N0} lines/s");
    }
}

var tcp = new List<TcpThroughput.Result>();
if ((options.TcpThroughput || options.TcpOnly) && !options.StoreOnly && workloads.FirstOrDefault(w => w.Name == "sensor") is { } tcpWorkload)
{
    progress.WriteLine($"tcp throughput: {tcpWorkload.Name}, {options.TcpRecords:N0} records per repetition, plaintext and TLS");
    var t = await TcpThroughput.MeasureAsync(tcpWorkload, options.TcpRecords, options.TcpRepetitions, options.TempPrefix, progress);
    tcp.Add(t);
    foreach (var (engine, recordsPerSecond, allocated, backend) in new[]
             {
                 (Engines.Tcp, t.PlainRecordsPerSecond, t.PlainAllocatedBytesPerRecord, "serve over loopback TCP"),
                 (Engines.TcpTls, t.TlsRecordsPerSecond, t.TlsAllocatedBytesPerRecord, $"serve over loopback TCP, {t.TlsCipher}"),
             })
    {
        suite.Rows.Add(new ResultRow
        {
            Workload = t.Workload,
            Keys = t.Keys,
            Engine = engine,
            Backend = backend,
            Threads = 1,
            StepsPerSecond = recordsPerSecond,
            Gflops = recordsPerSecond * tcpWorkload.FlopsPerStep / 1e9,
            AllocatedBytesPerStep = allocated,
            StepsTimed = t.Records * t.PlainSamples.Count,
        });
    }

    progress.WriteLine($"tcp throughput: plaintext {t.PlainRecordsPerSecond:N0}, TLS {t.TlsRecordsPerSecond:N0} records/s ({t.TlsShare:P1})");
}

var memory = new List<MemoryPerKey.Result>();
if (options.Memory && !options.TcpOnly && !options.StoreOnly && workloads.FirstOrDefault(w => w.Name == "sensor") is { } sensor)
{
    progress.WriteLine($"memory per live key: {sensor.Name}, {options.MemoryKeys:N0} keys");
    var m = MemoryPerKey.Measure(sensor, options.MemoryKeys, materializer);
    memory.Add(m);
    progress.WriteLine($"memory per live key: {m.BytesPerKey:F0} B (raw {m.RawStateBytes} B)");
}

var stores = new List<SessionStoreSpeed.Result>();
var checkpointed = new List<CheckpointedStream.Result>();
var checkpointCosts = new List<CheckpointCost.Result>();
var storeMemory = new List<MemoryPerKey.WithStoreResult>();
if (options.Store && !options.TcpOnly && workloads.FirstOrDefault(w => w.Name == "sensor") is { } stored)
{
    // Each measurement gets an empty store of its own (a new SQLite file, a new database of the private server).
    var sqliteFiles = new List<string>();
    var storeKinds = new List<(string Name, Func<Task<string>> NewStore)>();
    if (options.StoreKinds.Contains("sqlite"))
    {
        storeKinds.Add(("SQLite", () =>
        {
            var file = $"{options.TempPrefix}sessions-{Environment.ProcessId}-{sqliteFiles.Count}.db";
            sqliteFiles.Add(file);
            return Task.FromResult(file);
        }));
    }

    PrivatePostgreSqlServer? postgres = null;
    CheckpointedStream.ServerCounters? postgresCounters = null;
    var measurePostgres = options.StoreKinds.Contains("postgresql");
    if (measurePostgres && options.StorePostgres is { } given)
    {
        storeKinds.Add(("PostgreSQL", () => Task.FromResult(given)));
    }
    else if (measurePostgres && PrivatePostgreSqlServer.IsInstalled)
    {
        postgres = new PrivatePostgreSqlServer();
        await postgres.InitializeAsync();
        // The store's own pool size (SessionStoreLocation.DefaultMaxPoolSize), as a user gets it: every idle pooled connection
        // keeps the last command's parameters, i.e. a bucket snapshot (a pool of 40 cost 340 B per key at 10,000 keys). The
        // longer timeouts (connecting, waiting for a pooled connection, a command) are for a loaded machine.
        storeKinds.Add(("PostgreSQL", async () => await postgres.CreateDatabaseAsync() + ";Timeout=60;Command Timeout=120"));
        postgresCounters = () => (postgres.CpuSeconds(), postgres.WalBytesAsync().GetAwaiter().GetResult());
        progress.WriteLine($"session store: private PostgreSQL 15 on 127.0.0.1:{postgres.Port}");
    }
    else if (measurePostgres)
    {
        progress.WriteLine("session store: PostgreSQL SKIPPED: PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin/pg_ctl; Debian's postgresql package)");
    }

    try
    {
        foreach (var (name, newStore) in storeKinds)
        {
            LstmStream.Actors.Persistence.SessionStoreLocation location;
            if (options.StoreRows.Contains("speed"))
            {
                location = LstmStream.Actors.Persistence.SessionStoreLocation.Parse(await newStore(), Directory.GetCurrentDirectory());
                progress.WriteLine($"session store: {location.Description}, {options.StoreKeys:N0} keys");
                var result = SessionStoreSpeed.Measure(stored, location, options.StoreKeys, name == "PostgreSQL" ? postgresCounters : null);
                stores.Add(result);
                progress.WriteLine($"session store: {result.Store} checkpoint {result.CheckpointKeysPerSecond:N0} keys/s, {result.CheckpointMegabytesPerSecond:F0} MB/s; overlapped {result.OverlappedSeconds:F1} s, client CPU {result.OverlappedClientCpuSeconds:F1} s, server CPU {result.OverlappedServerCpuSeconds:F1} s, WAL {result.OverlappedWalBytes / 1e6:F0} MB");
            }

            foreach (var keys in options.StoreRows.Contains("memory") ? options.CheckpointedKeys : [])
            {
                ReleaseStoreConnections();
                location = LstmStream.Actors.Persistence.SessionStoreLocation.Parse(await newStore(), Directory.GetCurrentDirectory());
                progress.WriteLine($"memory per live key with the store: {name}, {keys:N0} live keys");
                var m = MemoryPerKey.MeasureWithStore(stored, location, keys);
                storeMemory.Add(m);
                progress.WriteLine($"memory per live key with the store: {m.BytesPerKeyWith:F0} B vs {m.BytesPerKeyWithout:F0} B without (raw {m.RawStateBytes} B, target {m.TargetBytes:F0} B: {(m.Met ? "met" : "NOT MET")})");
            }

            foreach (var keys in options.StoreRows.Contains("cost") ? options.CheckpointedKeys : [])
            {
                ReleaseStoreConnections();
                location = LstmStream.Actors.Persistence.SessionStoreLocation.Parse(await newStore(), Directory.GetCurrentDirectory());
                var k = CheckpointCost.Measure(stored, location, keys, name == "PostgreSQL" ? postgresCounters : null);
                checkpointCosts.Add(k);
                progress.WriteLine($"checkpoint cost: {name}, {keys:N0} keys, {k.Checkpoints} checkpoints after {CheckpointCost.WarmUpCheckpoints}: per checkpoint CPU {k.CpuMillisecondsPerCheckpoint:F0} ms (JIT {k.JitMillisecondsPerCheckpoint:F0} ms), " +
                                   $"allocated {k.AllocatedMegabytesPerCheckpoint:F1} MB for {k.StateMegabytesPerCheckpoint:F1} MB written, GC gen0/1/2 {k.Gen0PerCheckpoint:F1}/{k.Gen1PerCheckpoint:F1}/{k.Gen2PerCheckpoint:F1} (paused {k.GcPauseMillisecondsPerCheckpoint:F0} ms), wall {k.WallMillisecondsPerCheckpoint:F0} ms" +
                                   (k.ServerCpuMillisecondsPerCheckpoint is { } sc ? $", server CPU {sc:F0} ms, WAL {k.ServerWalMegabytesPerCheckpoint:F1} MB" : "") +
                                   "; sampled allocation MB/checkpoint: " + string.Join(", ", k.AllocatedByType.Select(t => $"{t.Type} {t.Megabytes:F1}")));
            }

            foreach (var keys in options.StoreRows.Contains("stream") ? options.CheckpointedKeys : [])
            {
                ReleaseStoreConnections();
                location = LstmStream.Actors.Persistence.SessionStoreLocation.Parse(await newStore(), Directory.GetCurrentDirectory());
                progress.WriteLine($"checkpointed stream: {name}, {keys:N0} live keys, checkpoint every {options.CheckpointInterval.TotalSeconds:0} s, {options.CheckpointedDuration.TotalSeconds:0} s timed each way");
                var c = CheckpointedStream.Measure(stored, location, keys, options.CheckpointInterval, options.CheckpointedDuration, name == "PostgreSQL" ? postgresCounters : null);
                checkpointed.Add(c);
                progress.WriteLine($"checkpointed stream: {c.StepsPerSecondWith:N0} vs {c.StepsPerSecondWithout:N0} steps/s ({c.Ratio:F3}×), {c.Checkpoints} checkpoint(s) of {c.KeysCheckpointed:N0} keys, {c.BytesPerKeyWith:F0} vs {c.BytesPerKeyWithout:F0} B/key; {c.ExtraCpuMillisecondsPerCheckpoint:F0} ms more CPU, {c.ExtraAllocatedMegabytesPerCheckpoint:F0} MB more allocated, {c.ExtraGcPauseMillisecondsPerCheckpoint:F0} ms more GC pause per checkpoint ({c.With.CpuMicrosecondsPerStep:F2} vs {c.Without.CpuMicrosecondsPerStep:F2} µs/step), {c.With.RowsPerBatch:F0} vs {c.Without.RowsPerBatch:F0} rows per multiply, GC gen0/1/2 {c.With.Gen0Collections}/{c.With.Gen1Collections}/{c.With.Gen2Collections} vs {c.Without.Gen0Collections}/{c.Without.Gen1Collections}/{c.Without.Gen2Collections} (paused {c.With.GcPauseSeconds * 1e3:F0} vs {c.Without.GcPauseSeconds * 1e3:F0} ms), JIT {c.With.JitSeconds * 1e3:F0} vs {c.Without.JitSeconds * 1e3:F0} ms; client CPU {c.With.CpuSeconds:F1} s vs {c.Without.CpuSeconds:F1} s" + (c.ServerCpuSeconds is { } serverCpu ? $", server CPU {serverCpu:F1} s, WAL {c.ServerWalBytes / 1e6:F0} MB" : ""));
            }
        }
    }
    finally
    {
        ReleaseStoreConnections();
        if (postgres is not null) await postgres.DisposeAsync();
        foreach (var file in sqliteFiles.SelectMany(f => new[] { f, f + "-wal", f + "-shm" })) File.Delete(file);
    }
}

machine.LoadAverageEnd = MachineInfo.LoadAverage();
var report = new Report { Machine = machine, Options = options, Rows = suite.Rows, Runs = runs, Memory = memory, Stores = stores, Checkpointed = checkpointed, StoreMemory = storeMemory, Failures = suite.Failures, CeilingMatrices = suite.CeilingMatrices, Tcp = tcp };
report.Relate();
Console.Out.Write(report.Markdown());
report.WriteJson(options.Out);
progress.WriteLine($"wrote {Path.GetFullPath(options.Out)}");
if (suite.Rows.Count > 0)
{
    var chart = ThroughputChart.PathBeside(options.Out);
    ThroughputChart.Write(suite.Rows, $"LstmStream steps/s by key count{(options.Quick ? " (quick run)" : "")}, {DateTime.UtcNow:yyyy-MM-dd}", chart);
    progress.WriteLine($"wrote {Path.GetFullPath(chart)}");
}
await system.Terminate();
return suite.Failures.Count == 0 ? 0 : 1;

// Each store measurement uses a database of its own, and connection pools outlive the actor systems that used them:
// their idle connections would add up past the PostgreSQL server's max_connections (100).
static void ReleaseStoreConnections()
{
    Npgsql.NpgsqlConnection.ClearAllPools();
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
}

// "layer 0 [10x16]: rows<=... managed; head …" → the distinct backend names it mentions.
static string BackendSummary(string choices)
{
    var names = new[] { "managed", "mkl", "openblas", "onednn" }.Where(n => choices.Contains(n, StringComparison.Ordinal)).ToList();
    return "auto: " + (names.Count == 0 ? choices : string.Join("/", names));
}
