using System.Runtime.CompilerServices;
using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// The <c>auto</c> backend choice for a model: a <see cref="TunedMatMul"/> per layer tuned on the layer's own steps
/// (<see cref="MatMulAutotuner.TuneLayer"/>) and one for the head, among every backend available here
/// (<see cref="MatMulBackendRegistry.CreateAvailable"/>) on one thread each, all within
/// <see cref="MatMulAutotuneOptions.ModelBudget"/>; the plans share one instance of each backend. With several threads
/// the one-thread plan stays below the row count from which the managed kernel's split over threads beats it
/// (<see cref="SplitOverThreads"/>), and the managed kernel with its own worker threads takes the rows above: so a model
/// never runs slower with more threads than with one, and only one thread pool ever runs (native pools would spin beside
/// our workers and steal their cores). Never fails for a missing native library: the unavailable ones are not candidates.
/// </summary>
public static class AutoMatMulPolicy
{
    /// <summary>
    /// A one-thread layer step that takes at least this long is large enough to judge the split over threads by
    /// (<see cref="MatMulAutotuner.MeasureSplit"/>): waking and joining a worker costs microseconds.
    /// </summary>
    private static readonly TimeSpan SplitJudgedFrom = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Backends for every matrix of <paramref name="model"/> chosen by timing them here, with up to
    /// <paramref name="threads"/> threads per multiply; <see cref="ModelMatMulBackends.Choices"/> holds one log line per matrix.
    /// </summary>
    public static ModelMatMulBackends Choose(LstmModel model, int threads, MatMulAutotuneOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        var tuned = OneThreadPlan(model, options);
        options ??= new MatMulAutotuneOptions();
        var backends = tuned.Plans.ToArray<IMatMulBackend>();
        var choices = tuned.Choices.ToArray();
        if (threads > 1) SplitOverThreads(model, backends, choices, tuned.Candidates, threads, options);
        return ModelMatMulBackends.FromMatrices(model, backends, choices);
    }

    /// <summary>The one-thread plan of every matrix of a model, with the backends it was chosen among.</summary>
    private sealed record OneThreadTuning(MatMulAutotuneOptions? Options, TunedMatMul[] Plans, string[] Choices, IReadOnlyList<IMatMulBackend> Candidates);

    /// <summary>
    /// The one-thread plans tuned in this process, per model and the options they were tuned with: a model chosen for
    /// again (with another thread count, say) keeps them. A tuning is a measurement under noise: where backends are
    /// close (a lone key's step) it may pick another one each time, so two configurations of one model could differ
    /// below the split over threads, and a model ran slower with two threads than with one for no reason of its own.
    /// </summary>
    private static readonly ConditionalWeakTable<LstmModel, OneThreadTuning> Tunings = new();

    private static OneThreadTuning OneThreadPlan(LstmModel model, MatMulAutotuneOptions? requested)
    {
        if (Tunings.TryGetValue(model, out var kept) && ReferenceEquals(kept.Options, requested)) return kept;
        var options = requested ?? new MatMulAutotuneOptions();
        var shapes = ModelMatMulBackends.Shapes(model);
        var plans = new TunedMatMul[shapes.Count];
        var choices = new string[shapes.Count];
        var candidates = MatMulBackendRegistry.CreateAvailable(1);
        // Every call of a backend on one thread runs on this thread, so its CPU time is what counts (time preempted by
        // other processes on a shared machine is not charged to whichever backend was running).
        var clock = ThreadCpuTimeProvider.Create();
        var started = clock.GetTimestamp();
        for (var i = 0; i < shapes.Count; i++)
        {
            // Each matrix gets an equal share of what is left, so time a small matrix does not use carries over.
            var left = options.ModelBudget - clock.GetElapsedTime(started);
            var share = left <= TimeSpan.Zero ? TimeSpan.FromTicks(1) : left / (shapes.Count - i);
            var tuner = new MatMulAutotuner(candidates, options, clock);
            plans[i] = i < model.Layers.Count ? tuner.TuneLayer(model.Layers[i], share) : tuner.Tune(shapes[i].K, shapes[i].N, share);
            choices[i] = $"{shapes[i].Label} {plans[i].Description}";
        }

        var tuning = new OneThreadTuning(requested, plans, choices, candidates);
        Tunings.AddOrUpdate(model, tuning);
        return tuning;
    }

    /// <summary>
    /// With several threads: each layer's step is timed split over a managed backend with <paramref name="threads"/>
    /// threads and alone (<see cref="MatMulAutotuner.MeasureSplit"/>, on the wall clock); from the row count where the
    /// split beats both the calling thread alone and the one-thread plan's own time at that row count, at every larger
    /// one measured, the layer's rows go to that backend (<see cref="MatMulAutotuner.SplitFromRows"/>). Below it the plan
    /// is the one-thread plan itself, the same backend instances: a step of a lone key, or of any row count the split does
    /// not pay for, runs exactly as with one thread (no worker pool looked at, no other packed copy of the weights). The
    /// head's managed rows go to that backend, which splits a multiply by its size alone (a head of at most 4 outputs
    /// never: dot products on the calling thread).
    /// </summary>
    private static void SplitOverThreads(LstmModel model, IMatMulBackend[] backends, string[] choices, IReadOnlyList<IMatMulBackend> candidates, int threads, MatMulAutotuneOptions options)
    {
        var pool = new ManagedMatMul(threads);
        var single = candidates.FirstOrDefault(c => c.Name == MatMulBackendRegistry.Managed);
        var tuner = new MatMulAutotuner([pool], options);
        for (var i = 0; i < backends.Length; i++)
        {
            var tuned = (TunedMatMul)backends[i];
            // The head's multiply is split by the size rule alone (nothing measured for it): the pool takes its managed rows.
            var plan = i < model.Layers.Count ? tuned.Plan.Ranges.ToList()
                : tuned.Plan.Ranges.Select(r => ReferenceEquals(r.Backend, single) ? r with { Backend = pool } : r).ToList();
            var label = tuned.ShapeLabel;
            if (i < model.Layers.Count)
            {
                var layer = model.Layers[i];
                var measured = tuner.MeasureSplit(pool, layer, SplitJudgedFrom);
                // The one-thread plan's time at a measured row count (its winner there), when it reached that count.
                double PlanSeconds(int rows) => tuned.Timings.Where(t => t.Rows == rows).Select(t => t.SecondsPerCall).DefaultIfEmpty(double.MaxValue).Min();
                var from = MatMulAutotuner.SplitFromRows(measured.Select(m => m.Rows).ToArray(),
                    measured.Select(m => (m.Split, Math.Min(m.Alone, PlanSeconds(m.Rows)))).ToArray(), options.PreferEarlierWithin);
                pool.SetSplitFromRows(layer.ConcatSize, layer.GateWidth, from);
                plan = SplitFrom(plan, from, pool);
                var times = string.Join(", ", measured.Select(m => $"{m.Rows}: {m.Split * 1e6:F0}/{m.Alone * 1e6:F0}"));
                label += from == int.MaxValue
                    ? $"; never split over {threads} threads (µs split/alone at rows {times})"
                    : $"; managed split over {threads} threads from {from} rows (µs split/alone at rows {times})";
            }

            backends[i] = new TunedMatMul(new MatMulDispatchPlan(plan), label, tuned.Timings);
            choices[i] = $"{(i < model.Layers.Count ? $"layer {i}" : "head")} {((TunedMatMul)backends[i]).Description}";
        }
    }

    /// <summary><paramref name="plan"/> below <paramref name="from"/> rows, <paramref name="pool"/> from there on.</summary>
    internal static List<MatMulDispatchRange> SplitFrom(IReadOnlyList<MatMulDispatchRange> plan, int from, IMatMulBackend pool)
    {
        if (from == int.MaxValue) return plan.ToList();
        var below = new List<MatMulDispatchRange>();
        foreach (var range in plan)
        {
            if (range.MaxRows >= from - 1)
            {
                if (from > 1) below.Add(range with { MaxRows = from - 1 });
                break;
            }

            below.Add(range);
        }

        below.Add(new MatMulDispatchRange(int.MaxValue, pool));
        return below;
    }
}
