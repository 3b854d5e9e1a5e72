using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// The <c>auto</c> backend choice for a model: a <see cref="TunedMatMul"/> per layer tuned on the layer's own steps
/// (<see cref="MatMulAutotuner.TuneLayer"/>) and one for the head, among every backend available here
/// (<see cref="MatMulBackendRegistry.CreateAvailable"/>), all within <see cref="MatMulAutotuneOptions.ModelBudget"/>;
/// the plans share one instance of each backend. Sharing matters with several threads: each managed instance keeps
/// worker threads of its own, and idle pools spinning beside the busy one would steal its cores — which is also
/// why, with several threads, the whole model goes to one backend (<see cref="KeepOneThreadPool"/>). Never fails
/// for a missing native library: the unavailable ones are not candidates.
/// </summary>
public static class AutoMatMulPolicy
{
    /// <summary>
    /// Backends for every matrix of <paramref name="model"/> chosen by timing them here, with
    /// <paramref name="threads"/> threads each; <see cref="ModelMatMulBackends.Choices"/> holds one log line per matrix.
    /// </summary>
    public static ModelMatMulBackends Choose(LstmModel model, int threads, MatMulAutotuneOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        var shapes = ModelMatMulBackends.Shapes(model);
        var backends = new IMatMulBackend[shapes.Count];
        var choices = new string[shapes.Count];
        options ??= new MatMulAutotuneOptions();
        // Several threads per backend: time each backend alone, after the last one's pool has gone idle.
        if (threads > 1) options = options with { Interleave = false, SettleTime = options.SettleTime > TimeSpan.Zero ? options.SettleTime : PoolSettleTime };
        var candidates = MatMulBackendRegistry.CreateAvailable(threads);
        // One thread per backend: every call runs on this thread, so its CPU time is what counts (time preempted by
        // other processes on a shared machine is not charged to whichever backend was running).
        var clock = threads == 1 ? ThreadCpuTimeProvider.Create() : TimeProvider.System;
        var started = clock.GetTimestamp();
        for (var i = 0; i < shapes.Count; i++)
        {
            // Each matrix gets an equal share of what is left, so time a small matrix does not use carries over.
            var left = options.ModelBudget - clock.GetElapsedTime(started);
            var share = left <= TimeSpan.Zero ? TimeSpan.FromTicks(1) : left / (shapes.Count - i);
            var tuner = new MatMulAutotuner(candidates, options, clock);
            var tuned = i < model.Layers.Count ? tuner.TuneLayer(model.Layers[i], share) : tuner.Tune(shapes[i].K, shapes[i].N, share);
            backends[i] = tuned;
            choices[i] = $"{shapes[i].Label} {tuned.Description}";
        }

        if (threads > 1) KeepOneThreadPool(model, backends, choices, shapes, candidates, threads, options);
        return ModelMatMulBackends.FromMatrices(model, backends, choices);
    }

    /// <summary>Rest between backends when tuning for several threads (OpenMP's team spins for about a millisecond after a call).</summary>
    private static readonly TimeSpan PoolSettleTime = TimeSpan.FromMilliseconds(3);

    /// <summary>
    /// With several threads per multiply, backends that mix would each keep a thread pool of their own (our
    /// workers, OpenBLAS's pthreads, oneDNN's OpenMP team, which spins after every call) and fight for the same
    /// cores between one layer's multiply and the next. So the whole model goes to one backend: the one with the
    /// least total measured time over all its matrices (at the batch sizes that every backend was measured at),
    /// except that the managed kernel keeps the model unless that total beats it by more than
    /// <see cref="MatMulAutotuneOptions.PoolPreferManagedWithin"/> (native pools also contend with the stream's own
    /// threads), and a native winner must win again when re-timed after every pool has gone idle
    /// (<see cref="ConfirmPoolBackend"/>): on a shared machine one disturbed series of repetitions must not hand the
    /// model to a pool that is twice as slow.
    /// </summary>
    private static void KeepOneThreadPool(LstmModel model, IMatMulBackend[] backends, string[] choices,
        IReadOnlyList<(string Label, int K, int N)> shapes, IReadOnlyList<IMatMulBackend> candidates, int threads, MatMulAutotuneOptions options)
    {
        var labels = shapes.Select(s => s.Label).ToArray();
        var preferManagedWithin = options.PoolPreferManagedWithin;
        var tuned = backends.Cast<TunedMatMul>().ToArray();
        // Per matrix, the row counts every backend was timed at: only those are compared.
        var commonRows = tuned.Select(matrix => matrix.Timings.GroupBy(t => t.Rows)
            .Where(g => g.Select(t => t.Backend).Distinct().Count() == matrix.Timings.Select(t => t.Backend).Distinct().Count())
            .Select(g => g.Key).ToHashSet()).ToArray();
        var totals = new Dictionary<string, double>();
        foreach (var candidate in tuned[0].Timings.Select(t => t.Backend).Distinct())
        {
            var total = 0.0;
            for (var i = 0; i < tuned.Length; i++)
                total += tuned[i].Timings.Where(t => t.Backend == candidate && commonRows[i].Contains(t.Rows)).Sum(t => t.SecondsPerCall);
            if (total > 0) totals[candidate] = total;
        }

        if (totals.Count == 0) return;
        var best = ChoosePoolBackend(totals, preferManagedWithin);
        var confirmation = "";
        if (best != MatMulBackendRegistry.Managed && totals.ContainsKey(MatMulBackendRegistry.Managed))
        {
            // A native pool won: time managed again, then the challenger, with every pool idle first, on each matrix
            // at its largest row count, before giving the whole model away.
            var managed = candidates.First(c => c.Name == MatMulBackendRegistry.Managed);
            var challenger = candidates.First(c => c.Name == best);
            var tuner = new MatMulAutotuner(candidates, options);
            double Retime(IMatMulBackend backend)
            {
                var total = 0.0;
                for (var i = 0; i < shapes.Count; i++)
                {
                    if (commonRows[i].Count == 0) continue;
                    total += tuner.TimeAlone(backend, i < model.Layers.Count ? model.Layers[i] : null, shapes[i].K, shapes[i].N, commonRows[i].Max());
                }

                return total;
            }

            Thread.Sleep(options.PoolConfirmSettleTime);
            var (kept, managedSeconds, challengerSeconds) = ConfirmPoolBackend(best, () => Retime(managed), () => Retime(challenger), preferManagedWithin);
            confirmation = $"; re-timed with idle pools: managed {managedSeconds * 1e3:F2} ms, {best} {challengerSeconds * 1e3:F2} ms";
            best = kept;
        }

        var used = tuned.SelectMany(t => t.Plan.Backends.Select(b => b.Name)).Distinct().ToArray();
        if (used.Length == 1 && used[0] == best) return;

        var chosen = candidates.First(c => c.Name == best);
        for (var i = 0; i < backends.Length; i++)
        {
            backends[i] = new TunedMatMul(MatMulDispatchPlan.Single(chosen), labels[i], tuned[i].Timings);
            choices[i] = $"{labels[i]}: {best} for all rows ({threads} threads; one thread pool for the whole model, tuned choice was {tuned[i].Plan}{confirmation})";
        }
    }

    /// <summary>
    /// The second look before a native pool takes the whole model: <paramref name="retimeManaged"/> runs first (before
    /// the challenger's pool has been woken again), then <paramref name="retimeChallenger"/>; the challenger is kept only
    /// if it still beats managed by more than the margin. Returns the backend kept and both times.
    /// </summary>
    internal static (string Kept, double ManagedSeconds, double ChallengerSeconds) ConfirmPoolBackend(string challenger,
        Func<double> retimeManaged, Func<double> retimeChallenger, double preferManagedWithin)
    {
        var managedSeconds = retimeManaged();
        var challengerSeconds = retimeChallenger();
        var kept = ChoosePoolBackend(new Dictionary<string, double> { [MatMulBackendRegistry.Managed] = managedSeconds, [challenger] = challengerSeconds }, preferManagedWithin);
        return (kept, managedSeconds, challengerSeconds);
    }

    /// <summary>The backend with the least total time, or managed when that total is not lower than managed's by more than the margin.</summary>
    internal static string ChoosePoolBackend(IReadOnlyDictionary<string, double> totals, double preferManagedWithin)
    {
        var best = totals.MinBy(t => t.Value).Key;
        return best != MatMulBackendRegistry.Managed && totals.TryGetValue(MatMulBackendRegistry.Managed, out var managedTotal) && totals[best] >= managedTotal * (1 - preferManagedWithin)
            ? MatMulBackendRegistry.Managed
            : best;
    }
}
