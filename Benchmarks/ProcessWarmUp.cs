using System.Diagnostics;
using Akka.Streams;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Benchmarks;

/// <summary>
/// Runs the streaming pipeline and the core stack for a while before anything is measured, so the tiered
/// JIT has compiled Akka's and the stages' hot paths (and the AVX-512 kernels) to optimized code; the
/// per-measurement warm-up then only has to cover what is new to each configuration.
/// </summary>
internal static class ProcessWarmUp
{
    public static void Run(Workload workload, IMaterializer materializer, TimeSpan duration)
    {
        const int keys = 64;
        var model = workload.Model;
        var inputs = new InputRounds(keys, model.InputSize);
        var layerBackends = model.Layers.Select(_ => (IMatMulBackend)new ManagedMatMul()).ToList();
        var headBackend = model.Head is null ? null : new ManagedMatMul();
        var core = new CoreStack(model, layerBackends, headBackend, keys);
        var clock = Stopwatch.StartNew();
        for (long round = 0; clock.Elapsed < duration / 2; round++) core.Round(inputs.Round(round));

        var all = layerBackends.Concat(headBackend is null ? [] : [headBackend]).ToList();
        using var running = new StreamEngine(model, all, inputs, materializer).Start();
        while (clock.Elapsed < duration) running.Run(16);
    }
}
