using System.Diagnostics;
using Akka.Actor;
using Akka.Streams;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// What durable sessions cost a running stream: the sensor pipeline (managed kernels) over <c>keys</c> live keys, free
/// running for the same wall-clock time twice in one process, without a store and with the store and its checkpoint
/// coordinator taking a checkpoint every <c>interval</c> (every key is stepped in each interval, so each checkpoint
/// writes every key, bucket by bucket). Steps/s of both, the checkpoints taken and keys written while timed, and the
/// managed heap per live key of both (<see cref="GC.GetTotalMemory"/> after full collections, with the stream running,
/// minus the heap before it started), compared with the raw state.
/// </summary>
internal static class CheckpointedStream
{
    /// <summary>
    /// Rows per micro-batch of both runs: serve's default (<c>LstmStream:Batch:MaxRows</c>, <see cref="PipelineOptions.MaxBatchRows"/>),
    /// what a user's stream runs with. Not keys, as the other stream rows: a checkpoint's bucket exports travel through the
    /// stream behind the batches in flight, so with one round per batch (10,000–100,000 rows) each group of exports waited
    /// whole rounds and a checkpoint of 256 buckets outlasted the timed window.
    /// </summary>
    public static readonly int BatchRows = new PipelineOptions().MaxBatchRows;

    /// <summary>Checkpoints taken before the timed part of the run with the store (see <see cref="Measure"/>).</summary>
    public const int WarmUpCheckpoints = 3;


    /// <param name="Checkpoints">Checkpoints completed while timed.</param>
    /// <param name="KeysCheckpointed">Keys they wrote.</param>
    /// <param name="CheckpointSeconds">How long each of them took, from the pipeline's dirty buckets to the last bucket written.</param>
    /// <param name="Without">CPU, batches and collections of the run without a store.</param>
    /// <param name="With">The same of the run with checkpoints.</param>
    public sealed record Result(string Store, string Workload, int Keys, int BatchRows, double IntervalSeconds, double Seconds, double StepsPerSecondWithout,
        double StepsPerSecondWith, long Checkpoints, long KeysCheckpointed, double[] CheckpointSeconds, long BytesWritten, double BytesPerKeyWithout, double BytesPerKeyWith,
        long RawStateBytes, TimedFigures Without, TimedFigures With)
    {
        /// <summary>A database server's CPU seconds and write-ahead log bytes while timed with the store (PostgreSQL; null for SQLite, which runs in this process).</summary>
        public double? ServerCpuSeconds { get; init; }

        public long? ServerWalBytes { get; init; }

        public double Ratio => StepsPerSecondWith / StepsPerSecondWithout;

        /// <summary>Managed bytes allocated per checkpoint beyond what the steps allocate (as <see cref="ExtraCpuMillisecondsPerCheckpoint"/>).</summary>
        public double ExtraAllocatedMegabytesPerCheckpoint => BeyondTheSteps(With.AllocatedBytes, Without.AllocatedBytes) / 1e6;

        /// <summary>Stream-stopping GC pause time per checkpoint beyond the run without's.</summary>
        public double ExtraGcPauseMillisecondsPerCheckpoint => BeyondTheSteps(With.GcPauseSeconds, Without.GcPauseSeconds) * 1e3;

        /// <summary>
        /// The process CPU time the checkpoints cost beyond the steps themselves, per checkpoint: the run with checkpoints'
        /// CPU minus what its steps cost at the run without's CPU per step, both without the JIT's compile time (the tiered JIT
        /// still re-compiles the stream's code early in a process, which would count against the run without). It depends on
        /// the machine's load less than the steps/s ratio, but not nothing: CPU time per step grows on a shared machine too
        /// (800-2,900 ms per checkpoint of 10,000 keys in runs at load 30-55).
        /// </summary>
        public double ExtraCpuMillisecondsPerCheckpoint => BeyondTheSteps(With.CpuSecondsBesidesJit, Without.CpuSecondsBesidesJit) * 1e3;

        /// <summary>
        /// Per checkpoint, how much of a figure the run with checkpoints used beyond what its steps explain at the run
        /// without's figure per step.
        /// </summary>
        private double BeyondTheSteps(double with, double without) =>
            Checkpoints == 0 ? double.NaN : (with - without / Without.Steps * With.Steps) / Checkpoints;

        /// <summary>The floor: 0.9× at 10,000 live keys, 0.75× at 100,000.</summary>
        public double RatioTarget => Keys <= 10_000 ? 0.9 : 0.75;

        public double MemoryTarget => 1.3 * RawStateBytes + 100;

        /// <summary>
        /// The ratio against <see cref="RatioTarget"/> once a checkpoint completed while timed; NOT MET when one was writing
        /// but none completed (the store did not keep the interval); NOT MEASURED when nothing was written.
        /// </summary>
        public string Verdict => Checkpoints > 0 ? Ratio >= RatioTarget ? "met" : "NOT MET"
            : BytesWritten > 0 ? "NOT MET: a checkpoint was writing but none completed in the window, the interval was not kept"
            : "NOT MEASURED: no checkpoint wrote in the window";
    }

    /// <summary>A database server's counters (CPU seconds, write-ahead log bytes so far); read before and after the timed run with the store.</summary>
    public delegate (double CpuSeconds, long WalBytes) ServerCounters();

    public static Result Measure(Workload workload, SessionStoreLocation location, int keys, TimeSpan interval, TimeSpan duration, ServerCounters? server = null)
    {
        var model = workload.Model;
        var backends = Enumerable.Range(0, model.Layers.Count + (model.Head is null ? 0 : 1)).Select(_ => (IMatMulBackend)new ManagedMatMul()).ToList();
        var inputs = new InputRounds(keys, model.InputSize);
        var (system, store) = SessionStoreSpeed.Open(location);
        try
        {
            using var materializer = ActorMaterializer.Create(system);
            var (without, memoryWithout, figuresWithout) = Timed(new StreamEngine(model, backends, inputs, materializer, maxBatchRows: BatchRows), duration, null, null);
            (double CpuSeconds, long WalBytes) serverBefore = default, serverAfter = default;

            IActorRef? coordinator = null;
            var figures = store.Figures;
            var (checkpoints, keysWritten, bytes, failures) = (0L, 0L, 0L, 0L);
            var durations = new System.Collections.Concurrent.ConcurrentQueue<double>();
            var timing = false;
            figures.CheckpointRecorded = (duration, succeeded) =>
            {
                if (succeeded && Volatile.Read(ref timing)) durations.Enqueue(duration.TotalSeconds);
            };
            var (with, memoryWith, figuresWith) = Timed(new StreamEngine(model, backends, inputs, materializer, store, BatchRows), duration, handle =>
            {
                coordinator = system.ActorOf(CheckpointCoordinatorActor.Props(new PipelineCheckpointSource(handle.State), store, interval, interval),
                    "bench-checkpoints");
                // Warm-up checkpoints, not timed: the first checkpoints of a process run the store's code (Akka.Persistence,
                // Linq2Db, the database driver) for the first time, and the JIT compiles and re-compiles it (tiered) on the
                // CPUs the stream steps on. A service pays that once, not every interval.
                for (var i = 0; i < WarmUpCheckpoints; i++)
                    coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, TimeSpan.FromMinutes(5)).Wait();
                (checkpoints, keysWritten, bytes, failures) = (figures.Checkpoints, figures.KeysCheckpointed, figures.BytesWritten, figures.CheckpointFailures);
                if (server is not null) serverBefore = server();
                Volatile.Write(ref timing, true);
            }, () =>
            {
                Volatile.Write(ref timing, false);
                if (server is not null) serverAfter = server();
                (checkpoints, keysWritten, bytes, failures) = (figures.Checkpoints - checkpoints, figures.KeysCheckpointed - keysWritten,
                    figures.BytesWritten - bytes, figures.CheckpointFailures - failures);
                // After the checkpoint under way (a poison pill waits behind it), before the stream stops.
                coordinator!.GracefulStop(TimeSpan.FromMinutes(2)).Wait();
            });
            if (failures > 0) throw new InvalidOperationException($"{failures} checkpoint(s) failed on {location.Description} while timed");
            return new Result(location.Kind.ToString(), workload.Name, keys, BatchRows, interval.TotalSeconds, duration.TotalSeconds, without, with,
                checkpoints, keysWritten, durations.ToArray(), bytes, memoryWithout, memoryWith, workload.RawStateBytes,
                figuresWithout, figuresWith)
            {
                ServerCpuSeconds = server is null ? null : serverAfter.CpuSeconds - serverBefore.CpuSeconds,
                ServerWalBytes = server is null ? null : serverAfter.WalBytes - serverBefore.WalBytes,
            };
        }
        finally
        {
            system.Terminate().Wait();
        }
    }

    /// <summary>
    /// What the timed part of one run cost: steps output, process CPU time (user + system, every thread), data batches
    /// stepped and garbage collections per generation (gen 0 counts every collection, gen 2 only the full ones).
    /// </summary>
    /// <param name="JitSeconds">Time the JIT spent compiling (<see cref="System.Runtime.JitInfo.GetCompilationTime"/>, every thread).</param>
    /// <param name="GcPauseSeconds">Time the runtime was paused for collections (<see cref="GC.GetTotalPauseDuration"/>).</param>
    /// <param name="AllocatedBytes">Bytes allocated on the managed heap (<see cref="GC.GetTotalAllocatedBytes"/>, every thread).</param>
    public sealed record TimedFigures(long Steps, double CpuSeconds, long Batches, int Gen0Collections, int Gen1Collections, int Gen2Collections,
        double JitSeconds, double GcPauseSeconds, long AllocatedBytes)
    {
        public double CpuMicrosecondsPerStep => Steps == 0 ? double.NaN : CpuSeconds * 1e6 / Steps;

        public double CpuSecondsBesidesJit => CpuSeconds - JitSeconds;

        /// <summary>Rows per multiply (each data batch is one multiply per layer).</summary>
        public double RowsPerBatch => Batches == 0 ? double.NaN : (double)Steps / Batches;
    }

    /// <summary>Steps/s over <paramref name="duration"/> after two warm-up rounds, heap bytes per key while running, and the timed part's figures.</summary>
    /// <param name="warmedUp">Called once the warm-up rounds are through (the timed part starts after it).</param>
    /// <param name="timed">Called after the timed part and the heap reading, before the stream stops.</param>
    private static (double StepsPerSecond, double BytesPerKey, TimedFigures Figures) Timed(StreamEngine engine, TimeSpan duration,
        Action<LstmPipelineHandle>? warmedUp, Action? timed)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        LstmPipelineHandle? handle = null;
        using var running = engine.Start(h => handle = h);
        running.Run(2);
        warmedUp?.Invoke(handle!);
        using var process = Process.GetCurrentProcess();
        var (produced, batches, cpu) = (running.Produced, handle!.Sessions.Batches, process.TotalProcessorTime);
        var (gen0, gen1, gen2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var (jit, pauses, allocated) = (System.Runtime.JitInfo.GetCompilationTime(), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes(precise: true));
        var watch = Stopwatch.StartNew();
        Thread.Sleep(duration);
        var steps = running.Produced - produced;
        var seconds = watch.Elapsed.TotalSeconds;
        process.Refresh();
        var figures = new TimedFigures(steps, (process.TotalProcessorTime - cpu).TotalSeconds, handle.Sessions.Batches - batches,
            GC.CollectionCount(0) - gen0, GC.CollectionCount(1) - gen1, GC.CollectionCount(2) - gen2,
            (System.Runtime.JitInfo.GetCompilationTime() - jit).TotalSeconds, (GC.GetTotalPauseDuration() - pauses).TotalSeconds,
            GC.GetTotalAllocatedBytes(precise: true) - allocated);
        var after = GC.GetTotalMemory(forceFullCollection: true);
        timed?.Invoke();
        return (steps / seconds, (double)(after - before) / engine.Keys, figures);
    }
}
