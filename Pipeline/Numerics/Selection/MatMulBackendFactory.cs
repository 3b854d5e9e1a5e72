using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics.Native;

namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// Creates math backends by configuration name (<c>Math:Backend</c>): <c>auto</c> (default), <c>managed</c>,
/// <c>mkl</c>, <c>openblas</c> or <c>onednn</c>, with a thread count. A named native backend whose library
/// cannot be loaded throws <see cref="MatMulBackendUnavailableException"/> naming the files tried and the
/// package that provides them; <c>auto</c> times every available backend per matrix shape
/// (<see cref="MatMulAutotuner"/>) and never fails for a missing library.
/// </summary>
public static class MatMulBackendFactory
{
    /// <summary>Each matrix's fastest available backend, measured at model load.</summary>
    public const string Auto = TunedMatMul.BackendName;

    /// <summary>The managed SIMD kernel (always available).</summary>
    public const string Managed = "managed";

    /// <summary>Intel MKL (<c>libmkl_rt</c>), when installed.</summary>
    public const string Mkl = MklMatMul.BackendName;

    /// <summary>OpenBLAS, when installed.</summary>
    public const string OpenBlas = OpenBlasMatMul.BackendName;

    /// <summary>oneDNN (<c>libdnnl</c>), when installed.</summary>
    public const string OneDnn = OneDnnMatMul.BackendName;

    /// <summary>Every accepted configuration name.</summary>
    public static IReadOnlyList<string> Names { get; } = [Auto, Managed, Mkl, OpenBlas, OneDnn];

    /// <summary>The backends that <c>auto</c> chooses between, in order of preference on a tie.</summary>
    public static IReadOnlyList<string> ConcreteNames { get; } = [Managed, Mkl, OpenBlas, OneDnn];

    /// <summary>The configuration name in canonical form; throws for an unknown name, listing the known ones.</summary>
    public static string Normalize(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var canonical = name.Trim().ToLowerInvariant();
        return Names.Contains(canonical)
            ? canonical
            : throw new ArgumentException($"unknown math backend '{name}'; expected one of {string.Join(", ", Names)}", nameof(name));
    }

    /// <summary>Whether the concrete backend <paramref name="name"/> can be created here, and if not, why.</summary>
    public static MatMulBackendAvailability Probe(string name)
    {
        var canonical = Normalize(name);
        string reason;
        bool available;
        switch (canonical)
        {
            case Managed:
                return new MatMulBackendAvailability(canonical, true, "");
            case Mkl:
                available = MklMatMul.IsAvailable(out reason);
                break;
            case OpenBlas:
                available = OpenBlasMatMul.IsAvailable(out reason);
                break;
            case OneDnn:
                available = OneDnnMatMul.IsAvailable(out reason);
                break;
            default:
                throw new ArgumentException($"'{Auto}' is not a single backend; probe {string.Join(", ", ConcreteNames)}", nameof(name));
        }

        return new MatMulBackendAvailability(canonical, available, reason);
    }

    /// <summary><see cref="Probe"/> for every concrete backend.</summary>
    public static IReadOnlyList<MatMulBackendAvailability> ProbeAll() => ConcreteNames.Select(Probe).ToArray();

    /// <summary>
    /// A new instance of the concrete backend <paramref name="name"/> using <paramref name="threads"/> threads.
    /// </summary>
    /// <exception cref="MatMulBackendUnavailableException">Its native library cannot be loaded.</exception>
    /// <exception cref="ArgumentException">Unknown name, or <c>auto</c> (which needs matrix shapes: use <see cref="CreateForModel"/> or <see cref="MatMulAutotuner"/>).</exception>
    public static IMatMulBackend Create(string name, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        return Normalize(name) switch
        {
            Managed => new ManagedMatMul(threads),
            Mkl => new MklMatMul(threads),
            OpenBlas => new OpenBlasMatMul(threads),
            OneDnn => new OneDnnMatMul(threads),
            _ => throw new ArgumentException(
                $"'{Auto}' is tuned per matrix shape; create it with {nameof(CreateForModel)} or {nameof(MatMulAutotuner)}", nameof(name)),
        };
    }

    /// <summary>A new instance of every concrete backend available here, in <see cref="ConcreteNames"/> order (managed first).</summary>
    public static IReadOnlyList<IMatMulBackend> CreateAvailable(int threads = 1) =>
        ProbeAll().Where(p => p.IsAvailable).Select(p => Create(p.Name, threads)).ToArray();

    /// <summary>
    /// Backends for every matrix of <paramref name="model"/>: for a named backend, one new instance shared by every
    /// layer and the head; for <c>auto</c>, a <see cref="TunedMatMul"/> per layer tuned on the layer's own steps
    /// (<see cref="MatMulAutotuner.TuneLayer"/>) and one for the head, all within <see cref="MatMulAutotuneOptions.ModelBudget"/>,
    /// whose plans share one instance of each backend. Sharing matters with several threads: each managed
    /// instance keeps worker threads of its own, and idle pools spinning beside the busy one would steal its cores.
    /// <see cref="ModelMatMulBackends.Choices"/> holds one log line per matrix.
    /// </summary>
    /// <exception cref="MatMulBackendUnavailableException">A named backend's native library cannot be loaded.</exception>
    public static ModelMatMulBackends CreateForModel(string name, int threads, LstmModel model, MatMulAutotuneOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        var canonical = Normalize(name);
        var shapes = model.Layers.Select((l, i) => (Label: $"layer {i}", K: l.ConcatSize, N: l.GateWidth)).ToList();
        if (model.Head is { } head) shapes.Add(("head", head.InputSize, head.OutputSize));

        var backends = new IMatMulBackend[shapes.Count];
        var choices = new string[shapes.Count];
        if (canonical != Auto)
        {
            var shared = Create(canonical, threads);
            for (var i = 0; i < shapes.Count; i++)
            {
                backends[i] = shared;
                choices[i] = $"{shapes[i].Label} [{shapes[i].K}x{shapes[i].N}]: {canonical}, {threads} thread{(threads == 1 ? "" : "s")}";
            }
        }
        else
        {
            options ??= new MatMulAutotuneOptions();
            // Several threads per backend: time each backend alone, after the last one's pool has gone idle.
            if (threads > 1) options = options with { Interleave = false, SettleTime = options.SettleTime > TimeSpan.Zero ? options.SettleTime : PoolSettleTime };
            var candidates = CreateAvailable(threads);
            var started = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < shapes.Count; i++)
            {
                // Each matrix gets an equal share of what is left, so time a small matrix does not use carries over.
                var left = options.ModelBudget - started.Elapsed;
                var share = left <= TimeSpan.Zero ? TimeSpan.FromTicks(1) : left / (shapes.Count - i);
                var tuner = new MatMulAutotuner(candidates, options);
                var tuned = i < model.Layers.Count ? tuner.TuneLayer(model.Layers[i], share) : tuner.Tune(shapes[i].K, shapes[i].N, share);
                backends[i] = tuned;
                choices[i] = $"{shapes[i].Label} {tuned.Description}";
            }

            if (threads > 1) KeepOneThreadPool(model, backends, choices, shapes, candidates, threads, options);
        }

        var layerCount = model.Layers.Count;
        return new ModelMatMulBackends(backends[..layerCount], model.Head is null ? null : backends[layerCount], choices);
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
        if (best != Managed && totals.ContainsKey(Managed))
        {
            // A native pool won: time managed again, then the challenger, with every pool idle first, on each matrix
            // at its largest row count, before giving the whole model away.
            var managed = candidates.First(c => c.Name == Managed);
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
        var kept = ChoosePoolBackend(new Dictionary<string, double> { [Managed] = managedSeconds, [challenger] = challengerSeconds }, preferManagedWithin);
        return (kept, managedSeconds, challengerSeconds);
    }

    /// <summary>The backend with the least total time, or managed when that total is not lower than managed's by more than the margin.</summary>
    internal static string ChoosePoolBackend(IReadOnlyDictionary<string, double> totals, double preferManagedWithin)
    {
        var best = totals.MinBy(t => t.Value).Key;
        return best != Managed && totals.TryGetValue(Managed, out var managedTotal) && totals[best] >= managedTotal * (1 - preferManagedWithin)
            ? Managed
            : best;
    }
}
