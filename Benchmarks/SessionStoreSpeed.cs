using System.Diagnostics;
using Akka.Actor;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// Durable-session store speed, per store (SQLite file, PostgreSQL when a connection string is given): a checkpoint of
/// <c>keys</c> keys of the workload's state shape in 256 buckets, written bucket by bucket as the checkpoint coordinator
/// does, with the bucket actors running (keys/s, MB/s of snapshot bytes); after a restart of the actor system, the latency of restoring one key (its
/// bucket read cold) and the keys/s of restoring every key in batches of 256 (every bucket read).
/// </summary>
internal static class SessionStoreSpeed
{
    /// <param name="OverlappedCheckpointKeysPerSecond">
    /// The same checkpoint with up to <see cref="CheckpointCoordinatorActor.WritesInFlight"/> bucket writes in flight, as the
    /// checkpoint coordinator writes (never every bucket at once: that would take as many database connections as buckets).
    /// </param>
    public sealed record Result(string Store, string Workload, int Keys, long Bytes, double CheckpointKeysPerSecond, double CheckpointMegabytesPerSecond,
        double OverlappedCheckpointKeysPerSecond, double RestoreOneKeyMilliseconds, double BulkRestoreKeysPerSecond)
    {
        /// <summary>The overlapped checkpoint's wall-clock seconds and this process's CPU seconds meanwhile.</summary>
        public double OverlappedSeconds { get; init; }

        public double OverlappedClientCpuSeconds { get; init; }

        /// <summary>The database server's CPU seconds and write-ahead log bytes during the overlapped checkpoint (PostgreSQL; null for SQLite).</summary>
        public double? OverlappedServerCpuSeconds { get; init; }

        public long? OverlappedWalBytes { get; init; }
    }

    private const int Buckets = 256;
    private const int RestoreBatch = 256;

    public static Result Measure(Workload workload, SessionStoreLocation location, int keys, CheckpointedStream.ServerCounters? server = null)
    {
        var model = workload.Model;
        var states = new KeyState[keys];
        var random = new Random(7);
        for (var k = 0; k < keys; k++)
        {
            var c = model.Layers.Select(l => Row(l.CellSize)).ToArray();
            var h = model.Layers.Select(l => Row(l.OutputSize)).ToArray();
            states[k] = new KeyState(model.Identity, $"sensor-{k}", c, h) { LastSeq = k };
        }

        float[] Row(int n)
        {
            var row = new float[n];
            for (var i = 0; i < n; i++) row[i] = (float)(random.NextDouble() * 2 - 1);
            return row;
        }

        // Two checkpoints of every key: the first starts the 256 bucket actors (each reads its bucket), the second, timed,
        // is a running service's checkpoint (buckets in memory; each write replaces the bucket's previous snapshot).
        var (system, store) = Open(location);
        Checkpoint(store, states);
        var watch = Stopwatch.StartNew();
        var bytes = Checkpoint(store, states);
        var checkpoint = watch.Elapsed.TotalSeconds;
        var serverBefore = server?.Invoke();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        watch.Restart();
        Checkpoint(store, states, overlapped: true);
        var overlapped = watch.Elapsed.TotalSeconds;
        var overlappedCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        var serverAfter = server?.Invoke();
        system.Terminate().Wait();

        (system, store) = Open(location);
        watch.Restart();
        var one = store.LoadAsync([states[0].Key], CancellationToken.None).GetAwaiter().GetResult();
        var restoreOne = watch.Elapsed.TotalMilliseconds;
        if (one.Count != 1) throw new InvalidOperationException("the restored key was not found");
        system.Terminate().Wait();

        (system, store) = Open(location);
        watch.Restart();
        var restored = 0;
        for (var k = 0; k < keys; k += RestoreBatch)
            restored += store.LoadAsync(states[k..Math.Min(keys, k + RestoreBatch)].Select(s => s.Key).ToArray(), CancellationToken.None).GetAwaiter().GetResult().Count;
        var bulk = watch.Elapsed.TotalSeconds;
        system.Terminate().Wait();
        if (restored != keys) throw new InvalidOperationException($"restored {restored} of {keys} keys");
        return new Result(location.Kind.ToString(), workload.Name, keys, bytes, keys / checkpoint, bytes / 1e6 / checkpoint, keys / overlapped, restoreOne, keys / bulk)
        {
            OverlappedSeconds = overlapped,
            OverlappedClientCpuSeconds = overlappedCpu,
            OverlappedServerCpuSeconds = serverAfter?.CpuSeconds - serverBefore?.CpuSeconds,
            OverlappedWalBytes = serverAfter?.WalBytes - serverBefore?.WalBytes,
        };
    }

    private static long Checkpoint(PersistentSessionStore store, KeyState[] states, bool overlapped = false)
    {
        for (var k = 0; k < states.Length; k += RestoreBatch) store.Accept(new SessionChanges(states[k..Math.Min(states.Length, k + RestoreBatch)], [], null));
        long bytes = 0;
        if (overlapped)
        {
            var writing = new Queue<Task<BucketProtocol.BucketSaved>>();
            foreach (var bucket in store.TakePendingBuckets())
            {
                writing.Enqueue(store.SaveBucketAsync(bucket, CancellationToken.None));
                if (writing.Count >= CheckpointCoordinatorActor.WritesInFlight) bytes += writing.Dequeue().GetAwaiter().GetResult().Bytes;
            }

            while (writing.Count > 0) bytes += writing.Dequeue().GetAwaiter().GetResult().Bytes;
            return bytes;
        }

        foreach (var bucket in store.TakePendingBuckets()) bytes += store.SaveBucketAsync(bucket, CancellationToken.None).GetAwaiter().GetResult().Bytes;
        return bytes;
    }

    /// <summary>An actor system configured for <paramref name="location"/> and the store opened on it (256 buckets).</summary>
    public static (ActorSystem System, PersistentSessionStore Store) Open(SessionStoreLocation location)
    {
        location.PrepareAsync(CancellationToken.None).GetAwaiter().GetResult();
        var system = ActorSystem.Create("bench-store", SessionStoreConfig.For(location).WithFallback("akka.loglevel = WARNING"));
        var region = system.ActorOf(BucketRegionActor.Props(TimeSpan.FromMinutes(10)), "sessions-store");
        var store = PersistentSessionStore.OpenAsync(region, Buckets, TimeSpan.FromMinutes(2), new SessionStoreFigures(), CancellationToken.None).GetAwaiter().GetResult();
        return (system, store);
    }
}
