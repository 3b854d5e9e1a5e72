using Akka.Streams;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Benchmarks;

/// <summary>
/// Runs every row of one workload: for each thread count the engine's automatic backend choice is made
/// once (as at model load), then for each live-key count the engines are checked against the reference
/// (<see cref="StackedLstm"/>) for a few rounds and timed, all with the same inputs.
/// </summary>
internal sealed class BenchmarkSuite(BenchmarkOptions options, IMaterializer materializer, TextWriter progress)
{
    /// <summary>Rounds run from zero state before outputs and state are compared.</summary>
    private const int CheckRounds = 3;

    public List<ResultRow> Rows { get; } = [];

    public List<string> Failures { get; } = [];

    /// <summary>Per matrix of every ceiling row, each backend's time and the winner (from the pass the row kept).</summary>
    public List<CeilingMatrix> CeilingMatrices { get; } = [];

    public void Run(Workload workload)
    {
        var model = workload.Model;
        var onnx = OrtSessions.Export(model);
        foreach (var threads in options.Threads)
        {
            var candidates = CeilingBackends(threads);
            var chosen = MatMulBackendRegistry.CreateForModel(MatMulBackendRegistry.Auto, threads, model);
            progress.WriteLine($"[{workload.Name}, {threads} thread(s)] engine backends: {string.Join("; ", chosen.Choices)}");
            var chosenAll = chosen.Layers.Concat(chosen.Head is null ? [] : [chosen.Head]).ToList();

            foreach (var keys in options.Keys)
            {
                var inputs = new InputRounds(keys, model.InputSize);
                var reference = Reference(model, inputs);
                var label = $"{workload.Name}, {keys} keys, {threads} thread(s)";
                var settings = options.Measure;
                var backendLabel = BackendLabels.For(chosen, keys);
                var core = new CoreStack(model, chosen.Layers, chosen.Head, keys);
                for (var r = 0; r < CheckRounds; r++) core.Round(inputs.Round(r));
                CheckState($"{label}: {Engines.Core}", reference, core.Output, core.H, core.C);
                var stream = new StreamEngine(model, chosenAll, inputs, materializer);
                Check($"{label}: {Engines.Stream}", reference.Output, stream.RunCollectingLastRound(CheckRounds), model.OutputSize);
                // The price of durable sessions' bookkeeping: the same stream with a store that holds nothing (sensor model).
                var stored = workload.Name == "sensor" ? new StreamEngine(model, chosenAll, inputs, materializer, new NoOpSessionStore()) : null;
                if (stored is not null) Check($"{label}: {Engines.StreamStore}", reference.Output, stored.RunCollectingLastRound(CheckRounds), model.OutputSize);
                var typed = new TypedStreamEngine(model, chosen, inputs, materializer);
                Check($"{label}: {Engines.Typed}", reference.Output, typed.RunCollectingLastRound(CheckRounds), model.OutputSize);
                Check($"{label}: {Engines.TypedBatched}", reference.Output, typed.RunBatchedCollectingLastRound(CheckRounds), model.OutputSize);
                long round = CheckRounds;

                // Every engine once per pass; each row keeps its fastest pass, and every pass's figures (for the typed ratios).
                var best = new Dictionary<string, (string Backend, Measurement Measurement)>();
                var passes = new Dictionary<string, List<Measurement>>();
                var rowsPerBatch = new Dictionary<string, double>();
                void Keep(string engine, string backend, Measurement m)
                {
                    progress.WriteLine($"[{label}] {engine} ({backend}): {m.StepsPerSecond:N0} steps/s, {m.CpuSecondsPerStep * 1e9:N0} ns CPU per step");
                    if (!best.TryGetValue(engine, out var kept) || m.SecondsPerStep < kept.Measurement.SecondsPerStep) best[engine] = (backend, m);
                    if (!passes.TryGetValue(engine, out var list)) passes[engine] = list = [];
                    list.Add(m);
                }

                // The fast path and the typed flows it is compared with, measured back to back: each on a collected heap (no
                // collection owed to the one before), each stream run to its end before its rows per micro-batch are read.
                void MeasureStream(string engine, Func<RunningStream> start)
                {
                    if (!options.Measures(engine)) return;
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    var running = start();
                    Measurement m;
                    try
                    {
                        m = Measure.Run(running.Run, settings, allThreads: true, () => running.Produced);
                    }
                    finally
                    {
                        running.Dispose();
                    }

                    Keep(engine, backendLabel, m);
                    rowsPerBatch[engine] = running.RowsPerBatch;
                    progress.WriteLine($"[{label}] {engine}: {running.RowsPerBatch:F1} rows per micro-batch, {running.Gen0CollectionsPerMillionSteps:F1} gen-0 GCs per million steps");
                }

                Ceiling.Result? keptCeiling = null;
                for (var pass = 0; pass < options.Passes; pass++)
                {
                    if (options.Measures(Engines.Ceiling))
                    {
                        var ceiling = Ceiling.Measure(workload, keys, threads, candidates, settings.ForGemm());
                        if (keptCeiling is null || ceiling.SecondsPerStep < keptCeiling.SecondsPerStep) keptCeiling = ceiling;
                        foreach (var detail in ceiling.Details) progress.WriteLine($"[{label}] ceiling {detail}");
                        Keep(Engines.Ceiling, ceiling.Backend, new Measurement(ceiling.SecondsPerStep, ceiling.AllocatedBytesPerStep, ceiling.CallsTimed * keys));
                    }

                    if (options.Measures(Engines.Core))
                    {
                        Keep(Engines.Core, backendLabel, Measure.Run(n =>
                        {
                            for (var i = 0; i < n; i++) core.Round(inputs.Round(round++));
                            return (long)n * keys;
                        }, settings, allThreads: true));
                    }

                    // The pooled fast path and the typed API that wraps it (the same backend instances, batching and inputs),
                    // back to back, in alternating order (stream first in even passes, last in odd ones), so that neither side
                    // always runs on the heap or the caches the other left: the typed ratios pair the two of each pass.
                    (string Engine, Func<RunningStream> Start)[] compared =
                    [
                        (Engines.Stream, () => stream.Start()),
                        (Engines.Typed, typed.Start),
                        (Engines.TypedBatched, typed.StartBatched),
                    ];
                    foreach (var (engine, start) in pass % 2 == 0 ? compared : Enumerable.Reverse(compared)) MeasureStream(engine, start);

                    if (stored is not null && options.Measures(Engines.StreamStore))
                    {
                        using var storing = stored.Start();
                        Keep(Engines.StreamStore, backendLabel, Measure.Run(storing.Run, settings, allThreads: true, () => storing.Produced));
                    }

                    // What the caller's own graph costs per step with no model in it: the typed API's price cannot go below it.
                    if (options.Measures(Engines.TypedFloor))
                    {
                        using var floorRunning = typed.StartFloor();
                        Keep(Engines.TypedFloor, "no model", Measure.Run(floorRunning.Run, settings, allThreads: true, () => floorRunning.Produced));
                    }

                    if (options.Measures(Engines.OrtBatched) || options.Measures(Engines.OrtPerKey))
                    {
                        var (batched, spinning) = MeasureOrtBatched(workload, onnx, inputs, reference, threads, label, settings, check: pass == 0);
                        if (options.Measures(Engines.OrtBatched)) Keep(Engines.OrtBatched, OrtLabel(spinning, threads), batched);
                        if (options.Measures(Engines.OrtPerKey))
                            Keep(Engines.OrtPerKey, OrtLabel(spinning, threads), MeasureOrtPerKey(workload, onnx, inputs, reference, threads, spinning, label, settings, check: pass == 0));
                    }

                    progress.WriteLine($"[{label}] pass {pass + 1} of {options.Passes} done (load average {MachineInfo.LoadAverage()})");
                }

                foreach (var engine in Engines.Suite)
                {
                    if (best.ContainsKey(engine))
                        Add(workload, keys, threads, engine, best[engine].Backend, best[engine].Measurement, passes[engine], rowsPerBatch.GetValueOrDefault(engine, double.NaN));
                }
                if (keptCeiling is not null) CeilingMatrices.AddRange(keptCeiling.Matrices);
            }

            foreach (var backend in candidates) (backend as IDisposable)?.Dispose();
        }
    }

    /// <summary>Times ONNX Runtime batched with spinning off and (with more than one thread) on; returns the faster.</summary>
    private (Measurement Measurement, bool Spinning) MeasureOrtBatched(Workload workload, byte[] onnx, InputRounds inputs, Reference reference, int threads, string label,
        MeasureSettings settings, bool check)
    {
        var model = workload.Model;
        int keys = inputs.Keys;
        Measurement? best = null;
        var bestSpinning = false;
        bool[] spinningChoices = threads > 1 ? [false, true] : [false];
        foreach (var spinning in spinningChoices)
        {
            var setup = System.Diagnostics.Stopwatch.StartNew();
            using var ort = new OrtBatched(onnx, model, keys, threads, spinning);
            var created = setup.Elapsed.TotalSeconds;
            for (var r = 0; r < CheckRounds; r++) ort.Round(inputs.Round(r));
            progress.WriteLine($"[{label}] {Engines.OrtBatched}: session {created:F2} s, {CheckRounds} checked rounds {setup.Elapsed.TotalSeconds - created:F2} s");
            if (check) CheckState($"{label}: {Engines.OrtBatched} (spinning {(spinning ? "on" : "off")})", reference, ort.Output, ort.H, ort.C);
            long round = 0;
            var m = Measure.Run(n =>
            {
                for (var i = 0; i < n; i++) ort.Round(inputs.Round(round++));
                return (long)n * keys;
            }, settings, allThreads: true);
            progress.WriteLine($"[{label}] {Engines.OrtBatched} spinning {(spinning ? "on" : "off")}: {m.StepsPerSecond:N0} steps/s");
            if (best is null || m.SecondsPerStep < best.Value.SecondsPerStep)
            {
                best = m;
                bestSpinning = spinning;
            }
        }

        return (best!.Value, bestSpinning);
    }

    private Measurement MeasureOrtPerKey(Workload workload, byte[] onnx, InputRounds inputs, Reference reference, int threads, bool spinning, string label,
        MeasureSettings settings, bool check)
    {
        var model = workload.Model;
        int keys = inputs.Keys;
        using var ort = new OrtPerKey(onnx, model, keys, threads, spinning);
        ort.Step(CheckRounds * keys, inputs);
        if (check) CheckState($"{label}: {Engines.OrtPerKey}", reference, ort.Output, ort.H, ort.C);
        // One unit is one call: a repetition covers as many keys as fit in its time, so 4096 keys stay short.
        return Measure.Run(n =>
        {
            ort.Step(n, inputs);
            return n;
        }, settings, allThreads: true);
    }

    private static string OrtLabel(bool spinning, int threads) =>
        $"ort {OrtSessions.Version}" + (threads > 1 ? $", spinning {(spinning ? "on" : "off")}" : "");

    private void Add(Workload workload, int keys, int threads, string engine, string backend, Measurement m, IReadOnlyList<Measurement> passes, double rowsPerBatch)
    {
        var row = new ResultRow
        {
            Workload = workload.Name,
            Keys = keys,
            Engine = engine,
            Backend = backend,
            Threads = threads,
            StepsPerSecond = m.StepsPerSecond,
            Gflops = m.StepsPerSecond * workload.FlopsPerStep / 1e9,
            AllocatedBytesPerStep = m.AllocatedBytesPerStep,
            StepsTimed = m.StepsTimed,
            PassStepsPerSecond = passes.Select(p => p.StepsPerSecond).ToArray(),
            PassCpuNanosecondsPerStep = ResultRow.CpuPerPass(passes.Select(p => p.CpuSecondsPerStep)),
            RowsPerMicroBatch = double.IsNaN(rowsPerBatch) ? null : rowsPerBatch,
        };
        Rows.Add(row);
        progress.WriteLine($"[{workload.Name}, {keys} keys, {threads} thread(s)] {engine} ({backend}): {row.StepsPerSecond:N0} steps/s, {row.Gflops:F2} GFLOP/s, {row.AllocatedBytesPerStep:F1} B/step");
    }

    /// <summary>The managed kernel with the thread count, and every native backend present.</summary>
    private static List<IMatMulBackend> CeilingBackends(int threads)
    {
        var list = new List<IMatMulBackend> { new ManagedMatMul(threads) };
        foreach (var probe in MatMulBackendRegistry.ProbeAll())
        {
            if (probe.IsAvailable && probe.Name != MatMulBackendRegistry.Managed) list.Add(MatMulBackendRegistry.Create(probe.Name, threads));
        }

        return list;
    }

    /// <summary>The reference: <see cref="CheckRounds"/> steps of every key from zero state through <see cref="StackedLstm"/>.</summary>
    private static Reference Reference(LstmModel model, InputRounds inputs)
    {
        int keys = inputs.Keys, inSize = model.InputSize;
        var x = new float[keys * CheckRounds * inSize];
        for (var b = 0; b < keys; b++)
        {
            for (var t = 0; t < CheckRounds; t++) inputs.Row(t, b).CopyTo(x.AsSpan((b * CheckRounds + t) * inSize, inSize));
        }

        var result = new StackedLstm(model, new ManagedMatMul()).Run(x, keys, CheckRounds);
        var last = new float[keys * result.Width];
        for (var b = 0; b < keys; b++)
        {
            result.Outputs.AsSpan((b * CheckRounds + CheckRounds - 1) * result.Width, result.Width).CopyTo(last.AsSpan(b * result.Width, result.Width));
        }

        return new Reference(model, last, result.FinalState);
    }

    private void CheckState(string what, Reference reference, ReadOnlySpan<float> output, Func<int, ReadOnlySpan<float>> h, Func<int, ReadOnlySpan<float>> c)
    {
        Check($"{what} output", reference.Output, output, reference.Model.OutputSize);
        for (var k = 0; k < reference.Model.Layers.Count; k++)
        {
            Check($"{what} layer {k} h", reference.State.H[k], h(k), reference.Model.Layers[k].OutputSize);
            Check($"{what} layer {k} c", reference.State.C[k], c(k), reference.Model.Layers[k].CellSize);
        }
    }

    private void Check(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, int width)
    {
        var problem = Agreement.Check(what, expected, actual, width);
        if (problem is null) return;
        Failures.Add(problem);
        progress.WriteLine($"VALIDATION FAILED: {problem}");
    }
}

/// <summary>Reference outputs of the last checked round and the final state, per key.</summary>
internal sealed record Reference(LstmModel Model, float[] Output, LstmState State);
