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


    /// <param name="Checkpoints">Checkpoints completed while timed.</param>
    /// <param name="KeysCheckpointed">Keys they wrote.</param>
    /// <param name="CheckpointSeconds">How long each of them took, from the pipeline's dirty buckets to the last bucket written.</param>
    public sealed record Result(string Store, string Workload, int Keys, int BatchRows, double IntervalSeconds, double Seconds, double StepsPerSecondWithout,
        double StepsPerSecondWith, long Checkpoints, long KeysCheckpointed, double[] CheckpointSeconds, long BytesWritten, double BytesPerKeyWithout, double BytesPerKeyWith,
        long RawStateBytes)
    {
        /// <summary>CPU seconds of this process while timed without a store and with it (all threads: stream, actors, store client).</summary>
        public double ClientCpuSecondsWithout { get; init; }

        public double ClientCpuSecondsWith { get; init; }

        /// <summary>A database server's CPU seconds and write-ahead log bytes while timed with the store (PostgreSQL; null for SQLite, which runs in this process).</summary>
        public double? ServerCpuSeconds { get; init; }

        public long? ServerWalBytes { get; init; }

        public double Ratio => StepsPerSecondWith / StepsPerSecondWithout;

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
            var (without, memoryWithout, cpuWithout) = Timed(new StreamEngine(model, backends, inputs, materializer, maxBatchRows: BatchRows), duration, null, null);
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
            var (with, memoryWith, cpuWith) = Timed(new StreamEngine(model, backends, inputs, materializer, store, BatchRows), duration, handle =>
            {
                coordinator = system.ActorOf(CheckpointCoordinatorActor.Props(new PipelineCheckpointSource(handle.State), store, interval, interval),
                    "bench-checkpoints");
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
                checkpoints, keysWritten, durations.ToArray(), bytes, memoryWithout, memoryWith, workload.RawStateBytes)
            {
                ClientCpuSecondsWithout = cpuWithout,
                ClientCpuSecondsWith = cpuWith,
                ServerCpuSeconds = server is null ? null : serverAfter.CpuSeconds - serverBefore.CpuSeconds,
                ServerWalBytes = server is null ? null : serverAfter.WalBytes - serverBefore.WalBytes,
            };
        }
        finally
        {
            system.Terminate().Wait();
        }
    }

    /// <summary>Steps/s over <paramref name="duration"/> after two warm-up rounds, heap bytes per key while running, and this process's CPU seconds while timed.</summary>
    /// <param name="warmedUp">Called once the warm-up rounds are through (the timed part starts after it).</param>
    /// <param name="timed">Called after the timed part and the heap reading, before the stream stops.</param>
    private static (double StepsPerSecond, double BytesPerKey, double CpuSeconds) Timed(StreamEngine engine, TimeSpan duration, Action<LstmPipelineHandle>? warmedUp,
        Action? timed)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        LstmPipelineHandle? handle = null;
        using var running = engine.Start(h => handle = h);
        running.Run(2);
        warmedUp?.Invoke(handle!);
        var produced = running.Produced;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        Thread.Sleep(duration);
        var steps = running.Produced - produced;
        var seconds = watch.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        timed?.Invoke();
        return (steps / seconds, (double)(after - before) / engine.Keys, cpuSeconds);
    }
}
