using System.Numerics.Tensors;
using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// Times candidate backends on one matrix shape (K = rows of B, N = columns; for an LSTM layer
/// K = input + output size, N = 4 × cells, and then what is timed is the whole layer step) at a few row
/// counts and returns a <see cref="TunedMatMul"/> that sends each call to the fastest backend for its
/// row-count range. Per backend and row count: B packed,
/// two warm-up calls, then <see cref="MatMulAutotuneOptions.Repetitions"/> timed repetitions (each looping
/// calls for at least <see cref="MatMulAutotuneOptions.MinRepetitionTime"/>, interleaved across backends, or
/// backend after backend, see <see cref="MatMulAutotuneOptions.Interleave"/>), the fastest repetition per call
/// (interference only slows calls down). A row count is skipped, with all larger ones, when the time already
/// measured predicts it would overrun the budget, and no new round of repetitions starts once the budget is spent; the
/// smallest row count is always measured (at least one repetition each). Range limits lie at the geometric middle of adjacent measured row
/// counts; above the largest measured one its winner is kept.
/// <para>Not thread-safe: tune from one thread; it runs the candidates, which must not be in use meanwhile.</para>
/// </summary>
internal sealed class MatMulAutotuner
{
    private readonly IMatMulBackend[] _candidates;
    private readonly MatMulAutotuneOptions _options;
    private readonly TimeProvider _time;

    /// <param name="candidates">Backends to time, in order of preference (ties within the margin go to the earlier one).</param>
    /// <param name="options">What to measure; defaults when null.</param>
    /// <param name="timeProvider">The clock timings and the budget are read from (the system's when null).</param>
    public MatMulAutotuner(IReadOnlyList<IMatMulBackend> candidates, MatMulAutotuneOptions? options = null, TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count == 0) throw new ArgumentException("the autotuner needs at least one backend", nameof(candidates));
        _candidates = candidates.ToArray();
        _options = options ?? new MatMulAutotuneOptions();
        _options.Validate();
    }

    public IReadOnlyList<IMatMulBackend> Candidates => _candidates;

    public MatMulAutotuneOptions Options => _options;

    /// <summary>Tunes for B of shape <c>[k × n]</c> within <paramref name="budget"/>, timing multiplies alone.</summary>
    public TunedMatMul Tune(int k, int n, TimeSpan budget)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return Tune(k, n, budget, random =>
        {
            var weights = RandomValues(random, k * n);
            var bias = RandomValues(random, n);
            return _candidates.Select(backend => (TimedCall)new MultiplyCall(backend, backend.Pack(weights, k, n), bias, k, n, random)).ToArray();
        });
    }

    /// <summary>
    /// Tunes for <paramref name="layer"/>'s gate multiply <c>[(in + out) × 4H]</c> within <paramref name="budget"/>,
    /// timing whole layer steps (<c>LstmLayerKernel.StepInPlace</c>: multiply, cell update, projection, the state in tables) on its own
    /// weights, so a backend is judged by what it costs the layer — the managed kernel fuses the update into its
    /// multiply, which timing the multiply alone would not see.
    /// </summary>
    public TunedMatMul TuneLayer(LstmLayer layer, TimeSpan budget)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return Tune(layer.ConcatSize, layer.GateWidth, budget, random =>
            _candidates.Select(backend => (TimedCall)new LayerStepCall(new LstmLayerKernel(layer, backend), random)).ToArray());
    }

    private TunedMatMul Tune(int k, int n, TimeSpan budget, Func<Random, TimedCall[]> prepare)
    {
        var label = $"[{k}x{n}]";
        if (_candidates is [var only] && (only is not ManagedMatMul { Threads: > 1 } || n <= NarrowColumnsKernel.MaxColumns)) return new TunedMatMul(MatMulDispatchPlan.Single(only), label);

        var started = _time.GetTimestamp();
        var count = _candidates.Length;
        var calls = prepare(new Random(_options.Seed));
        // A managed backend with several threads is timed twice at each row count: split over its threads as its size
        // rules allow, and on the calling thread alone. Below the row count where splitting stops paying (waking and
        // joining a worker costs more than it saves, or the machine's other cores are busy) it then keeps to one thread.
        var alone = new List<(int Backend, int Call)>();
        var withAlone = calls.ToList();
        for (var b = 0; b < count; b++)
        {
            // (A narrow B, a small head, is multiplied as dot products on one thread anyway.)
            if (_candidates[b] is not ManagedMatMul { Threads: > 1 } managed || n <= NarrowColumnsKernel.MaxColumns) continue;
            alone.Add((b, withAlone.Count));
            withAlone.Add(new AloneCall(calls[b], managed));
        }

        calls = withAlone.ToArray();
        List<double[]> perSize;
        if (_options.Interleave)
        {
            perSize = MeasureSizes(calls, Enumerable.Range(0, calls.Length).ToArray(), started, budget);
        }
        else
        {
            // Backend by backend, every row count of one before the next, each with an equal share of what is left:
            // no other backend's pool spins while one is timed (the managed kernel, listed first, is timed before
            // any native pool has started). Only the row counts every backend reached are compared.
            perSize = [];
            for (var b = 0; b < count; b++)
            {
                if (_options.SettleTime > TimeSpan.Zero) Thread.Sleep(_options.SettleTime);
                var left = budget - _time.GetElapsedTime(started);
                var share = left <= TimeSpan.Zero ? TimeSpan.FromTicks(1) : left / (count - b);
                int[] which = [b, .. alone.Where(a => a.Backend == b).Select(a => a.Call)];
                var own = MeasureSizes(calls, which, _time.GetTimestamp(), share);
                if (b == 0) perSize = own.Select(_ => new double[calls.Length]).ToList();
                if (own.Count < perSize.Count) perSize.RemoveRange(own.Count, perSize.Count - own.Count);
                for (var i = 0; i < perSize.Count; i++)
                for (var w = 0; w < which.Length; w++) perSize[i][which[w]] = own[i][w];
            }
        }

        foreach (var (b, call) in alone)
        {
            var from = SplitFromRows(_options.BatchSizes, perSize.Select(t => (t[b], t[call])).ToArray(), _options.PreferEarlierWithin);
            ((ManagedMatMul)_candidates[b]).SetSplitFromRows(k, n, from);
            // What the managed backend costs from now on: the faster way at each measured row count.
            foreach (var seconds in perSize) seconds[b] = Math.Min(seconds[b], seconds[call]);
            label += from == int.MaxValue ? "; managed on one thread" : $"; managed split over threads from {from} rows";
        }

        for (var i = 0; i < perSize.Count; i++) perSize[i] = perSize[i][..count];
        var sizes = _options.BatchSizes;
        var timings = new List<MatMulTiming>();
        var ranges = new List<MatMulDispatchRange>();
        for (var i = 0; i < perSize.Count; i++)
        {
            for (var b = 0; b < count; b++) timings.Add(new MatMulTiming(_candidates[b].Name, sizes[i], k, n, perSize[i][b]));
            // floor(√(m_i · m_i+1)) lies in [m_i, m_i+1), so the limits ascend strictly.
            var maxRows = i == perSize.Count - 1 ? int.MaxValue : (int)Math.Floor(Math.Sqrt((double)sizes[i] * sizes[i + 1]));
            ranges.Add(new MatMulDispatchRange(maxRows, _candidates[Winner(perSize[i])]));
        }

        return new TunedMatMul(new MatMulDispatchPlan(ranges), label, timings);
    }

    /// <summary>
    /// Seconds per call of the candidates <paramref name="which"/> at each row count in turn, from the smallest,
    /// until the next one is predicted to overrun <paramref name="budget"/> counted from <paramref name="started"/>
    /// (the smallest is always measured). One array per measured row count, one value per entry of <paramref name="which"/>.
    /// </summary>
    private List<double[]> MeasureSizes(TimedCall[] calls, int[] which, long started, TimeSpan budget)
    {
        var measured = new List<double[]>();
        var lastRows = 0;
        foreach (var rows in _options.BatchSizes)
        {
            if (measured.Count > 0)
            {
                // Predict this size from the last one (time grows at most linearly with rows).
                var predicted = 0.0;
                var minRepetition = _options.MinRepetitionTime.TotalSeconds;
                foreach (var seconds in measured[^1])
                {
                    var call = seconds * rows / lastRows;
                    predicted += 2 * call + RepetitionsFor(call) * Math.Max(call, minRepetition);
                }

                if (_time.GetElapsedTime(started).TotalSeconds + predicted > budget.TotalSeconds) break;
            }

            foreach (var b in which) calls[b].Ensure(rows);
            var budgetTicks = budget.TotalSeconds * _time.TimestampFrequency;
            var deadline = budgetTicks >= long.MaxValue - started ? long.MaxValue : started + (long)budgetTicks;
            measured.Add(MeasureAll(calls, which, rows, deadline));
            lastRows = rows;
        }

        return measured;
    }

    /// <summary>The shortest one-thread step (seconds) at which a split over threads is judged by its timing at all.</summary>
    internal const double SplitJudgedFromSeconds = 10e-6;

    /// <summary>
    /// The fewest rows from which splitting over threads pays: the split time beats the calling thread alone by more
    /// than <paramref name="margin"/> at that measured row count (<paramref name="sizes"/>[i], times
    /// <paramref name="seconds"/>[i]) and at every larger one measured, the limit lying at the geometric middle below it;
    /// <c>int.MaxValue</c> when splitting does not pay at the largest row count measured. A row count whose step alone
    /// takes less than <see cref="SplitJudgedFromSeconds"/> never starts the split: there both timings are a fraction of a
    /// worker's wake-up and differ by noise (the seed model's one-row step, 0.3 µs, was once "split" from one row on, and
    /// its lone key ran a third slower with two threads than with one).
    /// </summary>
    internal static int SplitFromRows(IReadOnlyList<int> sizes, IReadOnlyList<(double Split, double Alone)> seconds, double margin)
    {
        var from = int.MaxValue;
        for (var i = seconds.Count - 1; i >= 0; i--)
        {
            if (seconds[i].Alone < SplitJudgedFromSeconds || seconds[i].Split >= seconds[i].Alone * (1 - margin)) break;
            from = i == 0 ? 1 : (int)Math.Floor(Math.Sqrt((double)sizes[i - 1] * sizes[i])) + 1;
        }

        return from;
    }

    private int Winner(double[] seconds)
    {
        var best = seconds.Min();
        for (var b = 0; b < seconds.Length; b++)
        {
            if (seconds[b] <= best * (1 + _options.PreferEarlierWithin)) return b;
        }

        return Array.IndexOf(seconds, best);
    }

    /// <summary>Fewer repetitions for calls so long that timer resolution and noise no longer matter.</summary>
    private int RepetitionsFor(double secondsPerCall) =>
        secondsPerCall > 0.005 ? Math.Min(_options.Repetitions, 3) : _options.Repetitions;

    /// <summary>
    /// Seconds per call of the candidates <paramref name="which"/> at <paramref name="rows"/> rows, each its fastest
    /// repetition (another thread or process taking the core only ever slows a repetition down). Their
    /// repetitions are interleaved (one of each backend in turn), so that what one backend leaves behind (caches,
    /// a thread still busy) weighs on every backend alike rather than on whichever is timed next.
    /// </summary>
    /// <remarks>Past <paramref name="deadline"/> (a timestamp of the time provider) no further round of repetitions starts.</remarks>
    private double[] MeasureAll(TimedCall[] calls, int[] which, int rows, long deadline)
    {
        var count = which.Length;
        var callsPerRepetition = new int[count];
        var samples = new double[count][];
        for (var i = 0; i < count; i++)
        {
            // The first call may pay one-time costs (JIT-generated kernels, worker threads, page faults);
            // the second one estimates how many calls make a repetition.
            var call = calls[which[i]];
            call.Run(rows);
            var start = _time.GetTimestamp();
            call.Run(rows);
            var warmUp = Math.Max(_time.GetElapsedTime(start).TotalSeconds, 1e-9);
            callsPerRepetition[i] = (int)Math.Clamp(Math.Ceiling(_options.MinRepetitionTime.TotalSeconds / warmUp), 1, 100_000);
            samples[i] = new double[RepetitionsFor(warmUp)];
        }

        var repetitions = samples.Max(s => s.Length);
        var rounds = 0;
        for (var r = 0; r < repetitions && (r == 0 || _time.GetTimestamp() < deadline); r++)
        {
            rounds = r + 1;
            for (var i = 0; i < count; i++)
            {
                if (r >= samples[i].Length) continue;
                var call = calls[which[i]];
                var perRepetition = callsPerRepetition[i];
                var start = _time.GetTimestamp();
                for (var c = 0; c < perRepetition; c++) call.Run(rows);
                samples[i][r] = _time.GetElapsedTime(start).TotalSeconds / perRepetition;
            }
        }

        var fastest = new double[count];
        for (var i = 0; i < count; i++) fastest[i] = TensorPrimitives.Min<double>(samples[i].AsSpan(0, Math.Min(rounds, samples[i].Length)));
        return fastest;
    }

    /// <summary>
    /// Whole steps of <paramref name="layer"/> on <paramref name="managed"/> (several threads), split over its threads
    /// and on the calling thread alone, their repetitions interleaved, at each of <see cref="MatMulAutotuneOptions.BatchSizes"/>
    /// from the smallest until one step alone takes at least <paramref name="largeEnough"/> (the split's fixed costs, waking
    /// and joining a worker, weigh less the more rows there are, so a split that pays there pays above). Not limited by
    /// the tuning budget: a split decided on small batches only would be extrapolated to large ones.
    /// </summary>
    internal IReadOnlyList<(int Rows, double Split, double Alone)> MeasureSplit(ManagedMatMul managed, LstmLayer layer, TimeSpan largeEnough)
    {
        ArgumentNullException.ThrowIfNull(managed);
        ArgumentNullException.ThrowIfNull(layer);
        var split = new LayerStepCall(new LstmLayerKernel(layer, managed), new Random(_options.Seed));
        TimedCall[] calls = [split, new AloneCall(split, managed)];
        var measured = new List<(int Rows, double Split, double Alone)>();
        foreach (var rows in _options.BatchSizes)
        {
            split.Ensure(rows);
            var seconds = MeasureAll(calls, [0, 1], rows, long.MaxValue);
            measured.Add((rows, seconds[0], seconds[1]));
            if (seconds[1] >= largeEnough.TotalSeconds) break;
        }

        return measured;
    }

    private static float[] RandomValues(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    /// <summary>What is timed for one candidate, with operand buffers grown to the row counts measured.</summary>
    private abstract class TimedCall
    {
        public abstract void Ensure(int rows);

        public abstract void Run(int rows);

        protected static void Grow(ref float[] buffer, int length, Random? fill)
        {
            if (buffer.Length >= length) return;
            buffer = fill is null ? new float[length] : RandomValues(fill, length);
        }
    }

    /// <summary>The calls of a managed backend with its split over threads turned off (the calling thread alone).</summary>
    private sealed class AloneCall(TimedCall inner, ManagedMatMul managed) : TimedCall
    {
        public override void Ensure(int rows) => inner.Ensure(rows);

        public override void Run(int rows)
        {
            managed.SerialOnly = true;
            try
            {
                inner.Run(rows);
            }
            finally
            {
                managed.SerialOnly = false;
            }
        }
    }

    private sealed class MultiplyCall(IMatMulBackend backend, IPackedMatrix packed, float[] bias, int k, int n, Random random) : TimedCall
    {
        private float[] _a = [];
        private float[] _c = [];

        public override void Ensure(int rows)
        {
            Grow(ref _a, rows * k, random);
            Grow(ref _c, rows * n, null);
        }

        public override void Run(int rows) => backend.Multiply(_a, rows, packed, bias, _c);
    }

    /// <summary>
    /// A layer step as the stream's layer stage and the benchmarks' core make it (<see cref="LstmLayerKernel.StepInPlace"/>):
    /// the state in tables, row r's at slot r, so a backend that must gather the rows into one matrix first and scatter
    /// them after (the native ones) is charged for it, and the fused managed step, which reads them where they lie, is not.
    /// </summary>
    private sealed class LayerStepCall(LstmLayerKernel kernel, Random random) : TimedCall
    {
        private float[] _x = [];
        private float[] _hTable = [];
        private float[] _cTable = [];
        private float[] _h = [];
        private int[] _slots = [];

        public override void Ensure(int rows)
        {
            var layer = kernel.Layer;
            Grow(ref _x, rows * layer.InputSize, random);
            Grow(ref _hTable, rows * layer.OutputSize, random);
            Grow(ref _cTable, rows * layer.CellSize, null);
            Grow(ref _h, rows * layer.OutputSize, null);
            if (_slots.Length < rows) _slots = Enumerable.Range(0, rows).ToArray();
        }

        public override void Run(int rows) => kernel.StepInPlace(rows, _x, _hTable, _cTable, _slots, _h);
    }
}
