using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// Memory held per live key: the managed heap (<see cref="GC.GetTotalMemory"/> after full collections) with
/// the pipeline materialized and idle, before and after one step of each of <c>keys</c> distinct keys went
/// through it (the keys stay live: no <c>end</c>), divided by the key count. It covers everything a live key
/// costs: the layer arenas (grown by doubling), the session slot table and the key strings. Compared with
/// the raw state, Σ layers (c + h) floats × 4 bytes.
/// <para>
/// With a store (<see cref="MeasureWithStore"/>): the same with the session store and its bucket actors running, after a
/// checkpoint has written every key (the heap reading is taken after it, so it holds whatever the store keeps per key),
/// next to the same measurement without a store in the same process; both with <c>MaxLiveKeys</c> = <c>keys</c>, so the
/// state arenas hold exactly the keys (no doubling slack), and serve's default batch size (256 rows), so the pipeline's
/// batch buffers (a fixed cost, not a per-key one) weigh as little on 10,000 keys as in the service.
/// </para>
/// </summary>
internal static class MemoryPerKey
{
    public sealed record Result(string Workload, int LiveKeys, double BytesPerKey, long RawStateBytes, double TargetBytes, long HeapBytesAfter);

    /// <param name="BytesPerKeyWith">Heap per live key with the store, after a checkpoint wrote every key.</param>
    /// <param name="BytesPerKeyWithout">The same pipeline without a store.</param>
    public sealed record WithStoreResult(string Store, string Workload, int LiveKeys, double BytesPerKeyWith, double BytesPerKeyWithout, long RawStateBytes,
        long KeysCheckpointed)
    {
        public double TargetBytes => 1.3 * RawStateBytes + 100;

        public bool Met => BytesPerKeyWith <= TargetBytes;
    }

    private const int FragmentRows = 4096;

    /// <summary>Rows per micro-batch of the measurement with a store: serve's default <c>Batch:MaxRows</c>.</summary>
    private const int ServeBatchRows = 256;

    public static Result Measure(Workload workload, int keys, IMaterializer materializer) =>
        Measure(workload, keys, materializer, new PipelineOptions { MaxBatchRows = FragmentRows }, null);

    public static WithStoreResult MeasureWithStore(Workload workload, SessionStoreLocation location, int keys)
    {
        var (system, store) = SessionStoreSpeed.Open(location);
        try
        {
            using var materializer = ActorMaterializer.Create(system);
            var without = Measure(workload, keys, materializer, new PipelineOptions { MaxBatchRows = ServeBatchRows, MaxLiveKeys = keys }, null);
            var keysCheckpointed = 0L;
            var with = Measure(workload, keys, materializer, new PipelineOptions { MaxBatchRows = ServeBatchRows, MaxLiveKeys = keys, SessionStore = store },
                handle =>
                {
                    var coordinator = system.ActorOf(CheckpointCoordinatorActor.Props(new PipelineCheckpointSource(handle.State), store, TimeSpan.Zero,
                        TimeSpan.FromSeconds(1)));
                    var done = coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance,
                        TimeSpan.FromMinutes(10)).GetAwaiter().GetResult();
                    keysCheckpointed = done.Keys;
                    coordinator.GracefulStop(TimeSpan.FromMinutes(1)).Wait();
                });
            if (keysCheckpointed != keys) throw new InvalidOperationException($"the checkpoint wrote {keysCheckpointed} of {keys} keys");
            return new WithStoreResult(location.Kind.ToString(), workload.Name, keys, with.BytesPerKey, without.BytesPerKey, workload.RawStateBytes, keysCheckpointed);
        }
        finally
        {
            system.Terminate().Wait();
        }
    }

    /// <param name="stepped">Called once every key has been stepped, before the heap is read (the checkpoint of the store's measurement).</param>
    private static Result Measure(Workload workload, int keys, IMaterializer materializer, PipelineOptions options, Action<LstmPipelineHandle>? stepped)
    {
        var model = workload.Model;
        var flow = LstmPipeline.Create(model, () => new ManagedMatMul(), options);
        var rows = options.MaxBatchRows;
        var x = new float[rows * model.InputSize];
        for (var i = 0; i < x.Length; i++) x[i] = MathF.Sin(i * 0.37f);

        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        long seen = 0;
        var idle = Source.Never<StepBatch>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Materialize first, idle, and take the baseline; then let the keys in.
        var ((killSwitch, handle), finished) = Source.FromTask(gate.Task.ContinueWith(_ => 0))
            .ConcatMany(_ => Source.From(Fragments(keys, rows, model.InputSize, x)).Concat(idle))
            .ViaMaterialized(KillSwitches.Single<StepBatch>(), Keep.Right)
            .ViaMaterialized(flow, Keep.Both)
            .ToMaterialized(Sink.ForEach<StepBatch>(batch =>
            {
                var total = Interlocked.Add(ref seen, batch.Count);
                batch.Release();
                if (total == keys) done.TrySetResult(total);
            }), Keep.Both)
            .Run(materializer);

        Thread.Sleep(100);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        gate.SetResult();
        var wait = Task.WhenAny(done.Task, finished);
        wait.GetAwaiter().GetResult();
        if (!done.Task.IsCompleted)
        {
            finished.GetAwaiter().GetResult();
            throw new InvalidOperationException($"the pipeline stopped after {Interlocked.Read(ref seen)} of {keys} keys");
        }

        stepped?.Invoke(handle);
        var after = GC.GetTotalMemory(forceFullCollection: true);
        killSwitch.Shutdown();
        finished.GetAwaiter().GetResult();
        GC.KeepAlive(flow);
        var perKey = (double)(after - before) / keys;
        return new Result(workload.Name, keys, perKey, workload.RawStateBytes, 1.3 * workload.RawStateBytes + 100, after);
    }

    private static IEnumerable<StepBatch> Fragments(int keys, int rows, int width, float[] x)
    {
        for (var first = 0; first < keys; first += rows)
        {
            var count = Math.Min(rows, keys - first);
            var fragment = StepBatch.Rent(count, width);
            for (var i = 0; i < count; i++)
            {
                var row = fragment.Add($"live-{first + i}", 0, StepFlags.HasSeq, first + i);
                x.AsSpan(i * width, width).CopyTo(fragment.Row(row));
            }

            yield return fragment;
        }
    }
}
