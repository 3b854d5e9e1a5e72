using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// Memory held per live key: the managed heap (<see cref="GC.GetTotalMemory"/> after full collections) with
/// the pipeline materialized and idle, before and after one step of each of <c>keys</c> distinct keys went
/// through it (the keys stay live: no <c>end</c>), divided by the key count. It covers everything a live key
/// costs: the layer arenas (grown by doubling), the session slot table and the key strings. Compared with
/// the raw state, Σ layers (c + h) floats × 4 bytes.
/// </summary>
internal static class MemoryPerKey
{
    public sealed record Result(string Workload, int LiveKeys, double BytesPerKey, long RawStateBytes, double TargetBytes, long HeapBytesAfter);

    private const int FragmentRows = 4096;

    public static Result Measure(Workload workload, int keys, IMaterializer materializer)
    {
        var model = workload.Model;
        var flow = LstmPipeline.Create(model, () => new ManagedMatMul(), new PipelineOptions { MaxBatchRows = FragmentRows });
        var x = new float[FragmentRows * model.InputSize];
        for (var i = 0; i < x.Length; i++) x[i] = MathF.Sin(i * 0.37f);

        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        long seen = 0;
        var idle = Source.Never<StepBatch>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Materialize first, idle, and take the baseline; then let the keys in.
        var (killSwitch, finished) = Source.FromTask(gate.Task.ContinueWith(_ => 0))
            .ConcatMany(_ => Source.From(Fragments(keys, model.InputSize, x)).Concat(idle))
            .ViaMaterialized(KillSwitches.Single<StepBatch>(), Keep.Right)
            .Via(flow)
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

        var after = GC.GetTotalMemory(forceFullCollection: true);
        killSwitch.Shutdown();
        finished.GetAwaiter().GetResult();
        GC.KeepAlive(flow);
        var perKey = (double)(after - before) / keys;
        return new Result(workload.Name, keys, perKey, workload.RawStateBytes, 1.3 * workload.RawStateBytes + 100, after);
    }

    private static IEnumerable<StepBatch> Fragments(int keys, int width, float[] x)
    {
        for (var first = 0; first < keys; first += FragmentRows)
        {
            var count = Math.Min(FragmentRows, keys - first);
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
