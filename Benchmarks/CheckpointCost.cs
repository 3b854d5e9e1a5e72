using System.Diagnostics;
using System.Diagnostics.Tracing;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// What the store's side of one checkpoint costs, without a stream beside it: <c>keys</c> keys of the workload's state
/// shape exported to the store as the pipeline's checkpoint exports them (fresh arrays per checkpoint, one live export per
/// bucket) and written bucket by bucket with <see cref="CheckpointCoordinatorActor.WritesInFlight"/> writes in flight,
/// as the coordinator writes, after warm-up checkpoints (the JIT). Per checkpoint: this process's CPU time (the JIT's
/// compile time taken out), managed bytes allocated and by which types (the runtime's allocation sampling, one sample
/// per ~100 KB), collections, and the database server's CPU seconds and write-ahead log. CPU and bytes depend on the
/// machine's load far less than the stream's steps/s ratio does, so this row tells a change to the store's cost apart
/// on a shared machine.
/// </summary>
internal static class CheckpointCost
{
    /// <summary>Checkpoints before the timed ones: the store's code (Linq2Db above all) is still being re-compiled by the tiered JIT after 5.</summary>
    public const int WarmUpCheckpoints = 20;
    public const int TimedCheckpoints = 10;
    private const int Buckets = 256;

    /// <param name="AllocatedByType">Sampled bytes allocated per checkpoint by type, largest first (the top ones).</param>
    public sealed record Result(string Store, string Workload, int Keys, int Checkpoints, double CpuMillisecondsPerCheckpoint, double JitMillisecondsPerCheckpoint,
        double AllocatedMegabytesPerCheckpoint, double StateMegabytesPerCheckpoint, double Gen0PerCheckpoint, double Gen1PerCheckpoint, double Gen2PerCheckpoint,
        double GcPauseMillisecondsPerCheckpoint, double WallMillisecondsPerCheckpoint, IReadOnlyList<(string Type, double Megabytes)> AllocatedByType)
    {
        public double? ServerCpuMillisecondsPerCheckpoint { get; init; }

        public double? ServerWalMegabytesPerCheckpoint { get; init; }
    }

    public static Result Measure(Workload workload, SessionStoreLocation location, int keys, CheckpointedStream.ServerCounters? server = null)
    {
        var model = workload.Model;
        var random = new Random(11);
        var names = Enumerable.Range(0, keys).Select(k => $"sensor-{k}").ToArray();
        var rows = names.Select(_ => model.Layers.Select(l => Row(l.CellSize)).Concat(model.Layers.Select(l => Row(l.OutputSize))).ToArray()).ToArray();
        var byBucket = Enumerable.Range(0, keys).GroupBy(k => KeyBuckets.BucketOf(names[k], Buckets)).OrderBy(g => g.Key).Select(g => (g.Key, g.ToArray())).ToArray();
        float[] Row(int n)
        {
            var row = new float[n];
            for (var i = 0; i < n; i++) row[i] = (float)(random.NextDouble() * 2 - 1);
            return row;
        }

        var (system, store) = SessionStoreSpeed.Open(location);
        try
        {
            var seq = 0L;
            for (var i = 0; i < WarmUpCheckpoints; i++) Checkpoint();
            using var sampling = new AllocationSampling();
            using var process = Process.GetCurrentProcess();
            var serverBefore = server?.Invoke();
            var (cpu, jit, pauses, allocated) = (process.TotalProcessorTime, System.Runtime.JitInfo.GetCompilationTime(), GC.GetTotalPauseDuration(),
                GC.GetTotalAllocatedBytes(precise: true));
            var (gen0, gen1, gen2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var watch = Stopwatch.StartNew();
            long bytes = 0;
            for (var i = 0; i < TimedCheckpoints; i++) bytes += Checkpoint();
            var wall = watch.Elapsed.TotalMilliseconds;
            process.Refresh();
            var serverAfter = server?.Invoke();
            var jitMs = (System.Runtime.JitInfo.GetCompilationTime() - jit).TotalMilliseconds;
            const int n = TimedCheckpoints;
            return new Result(location.Kind.ToString(), workload.Name, keys, n, ((process.TotalProcessorTime - cpu).TotalMilliseconds - jitMs) / n, jitMs / n,
                (GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1e6 / n, bytes / 1e6 / n,
                (double)(GC.CollectionCount(0) - gen0) / n, (double)(GC.CollectionCount(1) - gen1) / n, (double)(GC.CollectionCount(2) - gen2) / n,
                (GC.GetTotalPauseDuration() - pauses).TotalMilliseconds / n, wall / n,
                sampling.ByType().Take(12).Select(t => (t.Type, t.Bytes / 1e6 / n)).ToArray())
            {
                ServerCpuMillisecondsPerCheckpoint = server is null ? null : (serverAfter!.Value.CpuSeconds - serverBefore!.Value.CpuSeconds) * 1e3 / n,
                ServerWalMegabytesPerCheckpoint = server is null ? null : (serverAfter!.Value.WalBytes - serverBefore!.Value.WalBytes) / 1e6 / n,
            };

            // One checkpoint: every bucket's keys exported (as the pipeline's export: new arrays), then written, WritesInFlight at once.
            long Checkpoint()
            {
                seq++;
                var writing = new Queue<Task<BucketProtocol.BucketSaved>>();
                long written = 0;
                foreach (var (bucket, members) in byBucket)
                {
                    var states = new KeyState[members.Length];
                    for (var i = 0; i < members.Length; i++)
                    {
                        var k = members[i];
                        var layers = model.Layers.Count;
                        var c = new float[layers][];
                        var h = new float[layers][];
                        for (var l = 0; l < layers; l++)
                        {
                            c[l] = (float[])rows[k][l].Clone();
                            h[l] = (float[])rows[k][layers + l].Clone();
                        }

                        states[i] = new KeyState(model.Identity, names[k], c, h) { LastSeq = seq };
                    }

                    store.Accept(new SessionChanges(states, [], bucket) { LiveBucket = true, Changed = states.Length });
                    writing.Enqueue(store.SaveBucketAsync(bucket, CancellationToken.None));
                    if (writing.Count >= CheckpointCoordinatorActor.WritesInFlight) written += writing.Dequeue().GetAwaiter().GetResult().Bytes;
                }

                while (writing.Count > 0) written += writing.Dequeue().GetAwaiter().GetResult().Bytes;
                return written;
            }
        }
        finally
        {
            system.Terminate().Wait();
        }
    }

    /// <summary>The runtime's allocation sampling (GCAllocationTick: one event per ~100 KB allocated, naming the type of the allocation that crossed it).</summary>
    private sealed class AllocationSampling : EventListener
    {
        private const EventKeywords GcKeyword = (EventKeywords)0x1;
        private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, GcKeyword);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
            var type = e.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? e.Payload[t] as string ?? "?" : "?";
            var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(e.Payload[a]) : 100_000;
            lock (_lock) _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
        }

        public IEnumerable<(string Type, long Bytes)> ByType()
        {
            lock (_lock) return _bytes.OrderByDescending(p => p.Value).Select(p => (p.Key, p.Value)).ToArray();
        }
    }
}
