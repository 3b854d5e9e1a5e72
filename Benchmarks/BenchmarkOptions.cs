namespace LstmStream.Benchmarks;

/// <summary>
/// Command line: <c>[--quick] [--workload NAME]… [--keys N,N] [--threads N,N] [--engine NAME,NAME] [--passes N]
/// [--out FILE] [--no-run] [--no-memory] [--no-tcp] [--tcp-only] [--temp PREFIX] [--no-store] [--store-only] [--store-kind sqlite|postgresql]…
/// [--store-rows speed,memory,stream,cost] [--checkpointed-keys N,N] [--checkpointed-seconds N] [--store-postgres CONNECTION-STRING] [--latency [--serve PATH] [--send-gap MICROSECONDS]
/// [--latency-peak OUTPUTS-PER-SECOND [--latency-floor]] [--latency-shares PERCENT,PERCENT]]
/// [--cluster [--serve PATH]]</c>.
/// </summary>
internal sealed record BenchmarkOptions
{
    public static readonly int[] DefaultKeys = [1, 64, 1024, 4096];
    public static readonly int[] DefaultThreads = [1, 2];

    public bool Quick { get; init; }
    public bool Help { get; init; }
    public IReadOnlyList<string> Workloads { get; init; } = Workload.Names;
    public IReadOnlyList<int> Keys { get; init; } = DefaultKeys;
    public IReadOnlyList<int> Threads { get; init; } = DefaultThreads;

    /// <summary>The suite's engines to measure (<see cref="Engines.Suite"/> names); null: all of them.</summary>
    public IReadOnlySet<string>? Engines { get; init; }

    /// <summary>Passes asked for with <c>--passes</c>; null: <see cref="Passes"/>' default.</summary>
    public int? PassesOverride { get; init; }

    /// <summary>Whether the suite measures <paramref name="engine"/> (<c>--engine</c>).</summary>
    public bool Measures(string engine) => Engines is null || Engines.Contains(engine);
    public string Out { get; init; } = "bench-results.json";
    public bool RunThroughput { get; init; } = true;
    public bool Memory { get; init; } = true;

    /// <summary>The TCP rows: <c>serve</c>'s TCP channel plaintext and with TLS (sensor workload).</summary>
    public bool TcpThroughput { get; init; } = true;

    /// <summary>Only the TCP rows (no suite, run or memory rows).</summary>
    public bool TcpOnly { get; init; }

    /// <summary>Records sent per repetition of the TCP rows.</summary>
    public long TcpRecords => Quick ? 100_000 : 300_000;

    public int TcpRepetitions => Quick ? 3 : 5;

    /// <summary>Run only the latency benchmark (serve as a process, open-loop load over TCP and MQTT).</summary>
    public bool Latency { get; init; }

    /// <summary>
    /// The open-loop generator's least time between two wake-ups of its sender (<c>--send-gap MICROSECONDS</c>): records
    /// due within it go out together, each still timed from its own due time. Zero: a wake-up per due record.
    /// </summary>
    public TimeSpan SendGap { get; init; } = LstmStream.Benchmarks.Latency.OpenLoopGenerator.DefaultGap;

    /// <summary>
    /// The peak (outputs/s through serve) the latency benchmark's shares are taken of, instead of measuring it
    /// (<c>--latency-peak N</c>, one <c>--workload</c>): only the share rows run (no peak, in-process rows, lone key,
    /// echo floors or MQTT), so two builds or settings are compared at the same offered rates.
    /// </summary>
    public double? LatencyPeak { get; init; }

    /// <summary>
    /// With <see cref="LatencyPeak"/>: the share rows and a lone key measure the echo server (the floor) instead of
    /// serve (<c>--latency-floor</c>), so the load generator's own cost is measured with no engine beside it.
    /// </summary>
    public bool LatencyFloor { get; init; }

    /// <summary>
    /// With <see cref="LatencyPeak"/> (and not <see cref="LatencyFloor"/>): after the share rows, the lone key at 100
    /// records/s through the same serve, and the echo floor's lone key before it (<c>--latency-lone</c>), so a change
    /// on the path of one record is compared in interleaved runs without a full run.
    /// </summary>
    public bool LatencyLone { get; init; }

    /// <summary>The shares of the peak the latency benchmark offers (<c>--latency-shares 10,50,90</c>, percent).</summary>
    public IReadOnlyList<int> LatencyShares { get; init; } = [10, 50, 90];

    /// <summary>
    /// Run only the cluster rows (issue 14): cluster mode on one node against off, the routing hop's latency and processor
    /// time, peak outputs/s of 1, 2 and 3 nodes; <c>serve</c> processes on a private PostgreSQL (or <see cref="StorePostgres"/>).
    /// </summary>
    public bool Cluster { get; init; }

    /// <summary>The serve executable the latency benchmark starts; null: build the Hosting project and use its output.</summary>
    public string? ServeExecutable { get; init; }

    /// <summary>
    /// Measure the durable-session store: SQLite, and PostgreSQL (<see cref="StorePostgres"/>, else a private PostgreSQL 15
    /// server the benchmark starts, skipped with a line when it is not installed).
    /// </summary>
    public bool Store { get; init; } = true;

    /// <summary>A PostgreSQL connection string for the store measurements (an empty database, used by each in turn); null: a private server.</summary>
    public string? StorePostgres { get; init; }

    /// <summary>Only the session store rows (no suite, run, memory or TCP rows).</summary>
    public bool StoreOnly { get; init; }

    /// <summary>The stores measured: <c>sqlite</c>, <c>postgresql</c> (default both).</summary>
    public IReadOnlyList<string> StoreKinds { get; init; } = StoreKindNames;

    public static readonly string[] StoreKindNames = ["sqlite", "postgresql"];

    /// <summary>The store rows measured: <c>speed</c> (checkpoint and restore), <c>memory</c> (per live key with the store), <c>stream</c> (with checkpoints), <c>cost</c> (the store's CPU and allocation per checkpoint, no stream, only when named); default all but <c>cost</c>.</summary>
    public IReadOnlyList<string> StoreRows { get; init; } = ["speed", "memory", "stream"];

    public static readonly string[] StoreRowNames = ["speed", "memory", "stream", "cost"];

    public int StoreKeys => Quick ? 20_000 : 100_000;

    /// <summary>Live keys of the stream measured with and without checkpoints (<see cref="CheckpointedStream"/>).</summary>
    public IReadOnlyList<int> CheckpointedKeys { get; init; } = [10_000, 100_000];

    /// <summary>Checkpoint interval of that measurement (the service's default).</summary>
    public TimeSpan CheckpointInterval { get; } = TimeSpan.FromSeconds(5);

    /// <summary>Timed wall-clock seconds of each half of that measurement (<c>--checkpointed-seconds</c>: longer, so that checkpoints complete on a loaded machine).</summary>
    public TimeSpan CheckpointedDuration => TimeSpan.FromSeconds(CheckpointedSecondsOverride ?? (Quick ? 10 : 20));

    public int? CheckpointedSecondsOverride { get; init; }

    /// <summary>Prefix of the NDJSON input files written for the run rows.</summary>
    public string TempPrefix { get; init; } = "/tmp/bench-ndjson-";

    public MeasureSettings Measure => Quick ? MeasureSettings.Quick : MeasureSettings.Full;

    /// <summary>Lines of the NDJSON file of the run rows.</summary>
    public long RunLines => Quick ? 100_000 : 1_000_000;

    public int RunRepetitions => Quick ? 1 : 3;

    /// <summary>
    /// Times every configuration's rows are measured, one pass of all its engines after the other; each row keeps
    /// its fastest pass (on a shared machine a busy spell only ever slows a measurement down).
    /// </summary>
    public int Passes => PassesOverride ?? (Quick ? 1 : 2);

    /// <summary>Live keys of the memory measurement.</summary>
    public int MemoryKeys => Quick ? 100_000 : 1_000_000;

    public const string Usage =
        "usage: dotnet run --project Benchmarks -c Release -- [--quick] [--workload seed|sensor|wide]... " +
        "[--keys 1,64,1024,4096] [--threads 1,2] [--engine lstmstream-stream,lstmstream-typed,...] [--passes N] [--out bench-results.json] [--no-run] [--no-memory] [--no-tcp] [--tcp-only] [--temp /tmp/bench-ndjson-] " +
        "[--no-store] [--store-only] [--store-kind sqlite|postgresql]... [--store-rows speed,memory,stream,cost] [--checkpointed-keys 10000,100000] [--checkpointed-seconds 20] " +
        "[--store-postgres CONNECTION-STRING] " +
        "[--latency [--serve Hosting/bin/Release/net10.0/lstmstream] [--send-gap 200] [--latency-peak N --workload sensor [--latency-floor | --latency-lone]] [--latency-shares 10,50,90]] [--cluster [--serve PATH]]";

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions();
        var workloads = new List<string>();
        var storeKinds = new List<string>();
        var storeRows = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            switch (arg)
            {
                case "--quick": options = options with { Quick = true }; break;
                case "--help" or "-h": options = options with { Help = true }; break;
                case "--workload":
                    foreach (var name in Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!Workload.Names.Contains(name))
                            throw new ArgumentException($"unknown workload '{name}'; expected one of {string.Join(", ", Workload.Names)}");
                        workloads.Add(name);
                    }

                    break;
                case "--keys": options = options with { Keys = PositiveList(arg, Value()) }; break;
                case "--threads": options = options with { Threads = PositiveList(arg, Value()) }; break;
                case "--engine":
                    var engines = new HashSet<string>(options.Engines ?? Enumerable.Empty<string>());
                    foreach (var name in Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!LstmStream.Benchmarks.Engines.Suite.Contains(name))
                            throw new ArgumentException($"--engine: unknown engine '{name}'; expected one of {string.Join(", ", LstmStream.Benchmarks.Engines.Suite)}");
                        engines.Add(name);
                    }

                    options = options with { Engines = engines };
                    break;
                case "--passes": options = options with { PassesOverride = PositiveList(arg, Value()) is [var passes] ? passes : throw new ArgumentException("--passes takes one number") }; break;
                case "--out": options = options with { Out = Value() }; break;
                case "--no-run": options = options with { RunThroughput = false }; break;
                case "--no-memory": options = options with { Memory = false }; break;
                case "--no-tcp": options = options with { TcpThroughput = false }; break;
                case "--tcp-only": options = options with { TcpOnly = true }; break;
                case "--temp": options = options with { TempPrefix = Value() }; break;
                case "--latency": options = options with { Latency = true }; break;
                case "--cluster": options = options with { Cluster = true }; break;
                case "--serve":
                    var serve = Value();
                    if (!File.Exists(serve)) throw new ArgumentException($"--serve: '{serve}' does not exist");
                    options = options with { ServeExecutable = Path.GetFullPath(serve) };
                    break;
                case "--send-gap":
                    var gap = Value();
                    if (!int.TryParse(gap, out var microseconds) || microseconds < 0 || microseconds > 1_000_000)
                        throw new ArgumentException($"--send-gap: '{gap}' is not a number of microseconds from 0 to 1000000");
                    options = options with { SendGap = TimeSpan.FromMicroseconds(microseconds) };
                    break;
                case "--latency-peak":
                    var peak = Value();
                    if (!double.TryParse(peak, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var perSecond) || !(perSecond > 0))
                        throw new ArgumentException($"--latency-peak: '{peak}' is not a positive number of outputs per second");
                    options = options with { LatencyPeak = perSecond };
                    break;
                case "--latency-floor": options = options with { LatencyFloor = true }; break;
                case "--latency-lone": options = options with { LatencyLone = true }; break;
                case "--latency-shares":
                    var shares = PositiveList(arg, Value());
                    if (shares.Any(x => x > 100)) throw new ArgumentException($"--latency-shares: {shares.First(x => x > 100)} is more than 100 percent");
                    options = options with { LatencyShares = shares };
                    break;
                case "--no-store": options = options with { Store = false }; break;
                case "--store-postgres": options = options with { StorePostgres = Value() }; break;
                case "--store-only": options = options with { StoreOnly = true }; break;
                case "--store-kind": storeKinds.AddRange(Choices(arg, Value(), StoreKindNames)); break;
                case "--store-rows": storeRows.AddRange(Choices(arg, Value(), StoreRowNames)); break;
                case "--checkpointed-keys": options = options with { CheckpointedKeys = PositiveList(arg, Value()) }; break;
                case "--checkpointed-seconds":
                    options = options with { CheckpointedSecondsOverride = PositiveList(arg, Value()) is [var seconds] ? seconds : throw new ArgumentException("--checkpointed-seconds takes one number") };
                    break;
                default: throw new ArgumentException($"unknown argument '{arg}'");
            }
        }

        if (options.LatencyPeak is not null && workloads.Distinct().Count() != 1)
            throw new ArgumentException("--latency-peak is the peak of one model: give exactly one --workload (sensor or seed)");
        if (options.LatencyFloor && options.LatencyPeak is null)
            throw new ArgumentException("--latency-floor measures the echo server at shares of a given peak: give --latency-peak N too");
        if (options.LatencyLone && (options.LatencyPeak is null || options.LatencyFloor))
            throw new ArgumentException("--latency-lone adds the lone key to the share rows of a given peak: give --latency-peak N, without --latency-floor");
        if (options.StoreOnly && !options.Store) throw new ArgumentException("--store-only and --no-store exclude each other");
        if (storeKinds.Count > 0) options = options with { StoreKinds = storeKinds.Distinct().ToArray() };
        if (storeRows.Count > 0) options = options with { StoreRows = storeRows.Distinct().ToArray() };
        return workloads.Count > 0 ? options with { Workloads = workloads.Distinct().ToArray() } : options;
    }

    /// <summary>The comma-separated names of <paramref name="value"/>, each one of <paramref name="allowed"/> (lower case).</summary>
    private static IEnumerable<string> Choices(string option, string value, string[] allowed)
    {
        foreach (var name in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!allowed.Contains(name, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"{option}: unknown value '{name}'; expected one of {string.Join(", ", allowed)}");
            yield return name.ToLowerInvariant();
        }
    }

    private static int[] PositiveList(string option, string value)
    {
        var list = new List<int>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, out var n) || n <= 0) throw new ArgumentException($"{option}: '{part}' is not a positive integer");
            list.Add(n);
        }

        if (list.Count == 0) throw new ArgumentException($"{option} needs at least one value");
        return list.Distinct().Order().ToArray();
    }
}
