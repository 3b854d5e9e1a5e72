using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// Times candidate backends on one matrix shape (K = rows of B, N = columns; for an LSTM layer
/// K = input + output size, N = 4 × cells, and then what is timed is the whole layer step) at a few row counts and returns a <see cref="TunedMatMul"/> that
/// sends each call to the fastest backend for its row-count range. Per backend and row count: B packed,
/// two warm-up calls, then <see cref="MatMulAutotuneOptions.Repetitions"/> timed repetitions (each looping
/// calls for at least <see cref="MatMulAutotuneOptions.MinRepetitionTime"/>, interleaved across backends or in
/// one block per backend, see <see cref="MatMulAutotuneOptions.Interleave"/>),
/// median per call. A row count is skipped, with all larger ones, when the time already measured predicts
/// it would overrun the budget, and no new round of repetitions starts once the budget is spent; the
/// smallest row count is always measured (at least one repetition each). Range limits lie at the geometric middle of adjacent measured row
/// counts; above the largest measured one its winner is kept.
/// <para>Not thread-safe: tune from one thread; it runs the candidates, which must not be in use meanwhile.</para>
/// </summary>
public sealed class MatMulAutotuner
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
    /// timing whole layer steps (<see cref="LstmLayerKernel.Step"/>: multiply, cell update, projection) on its own
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
        if (_candidates.Length == 1) return new TunedMatMul(MatMulDispatchPlan.Single(_candidates[0]), label);

        var started = _time.GetTimestamp();
        var sizes = _options.BatchSizes;
        var random = new Random(_options.Seed);
        var calls = prepare(random);
        var timings = new List<MatMulTiming>();
        var measuredSizes = new List<int>();
        var winners = new List<int>();
        var lastSeconds = new double[_candidates.Length];
        var lastRows = 0;

        foreach (var rows in sizes)
        {
            if (measuredSizes.Count > 0)
            {
                // Predict this size from the last one (time grows at most linearly with rows).
                var predicted = 0.0;
                var minRepetition = _options.MinRepetitionTime.TotalSeconds;
                for (var b = 0; b < _candidates.Length; b++)
                {
                    var call = lastSeconds[b] * rows / lastRows;
                    predicted += 2 * call + RepetitionsFor(call) * Math.Max(call, minRepetition);
                }

                if (_time.GetElapsedTime(started).TotalSeconds + predicted > budget.TotalSeconds) break;
            }

            foreach (var call in calls) call.Ensure(rows);
            var budgetTicks = budget.TotalSeconds * _time.TimestampFrequency;
            var deadline = budgetTicks >= long.MaxValue - started ? long.MaxValue : started + (long)budgetTicks;
            var seconds = MeasureAll(calls, rows, deadline);
            for (var b = 0; b < _candidates.Length; b++) timings.Add(new MatMulTiming(_candidates[b].Name, rows, k, n, seconds[b]));

            winners.Add(Winner(seconds));
            measuredSizes.Add(rows);
            seconds.CopyTo(lastSeconds, 0);
            lastRows = rows;
        }

        var ranges = new List<MatMulDispatchRange>();
        for (var i = 0; i < measuredSizes.Count; i++)
        {
            // floor(√(m_i · m_i+1)) lies in [m_i, m_i+1), so the limits ascend strictly.
            var maxRows = i == measuredSizes.Count - 1
                ? int.MaxValue
                : (int)Math.Floor(Math.Sqrt((double)measuredSizes[i] * measuredSizes[i + 1]));
            ranges.Add(new MatMulDispatchRange(maxRows, _candidates[winners[i]]));
        }

        return new TunedMatMul(new MatMulDispatchPlan(ranges), label, timings);
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
    /// Median seconds per call of every candidate at <paramref name="rows"/> rows. With
    /// <see cref="MatMulAutotuneOptions.Interleave"/>, repetitions are interleaved (one of each backend in turn),
    /// so that what one backend leaves behind (caches, a thread still busy) weighs on every backend alike;
    /// without it each backend is timed in a block of its own, after <see cref="MatMulAutotuneOptions.SettleTime"/>
    /// of rest, so that no other backend's thread pool is spinning on the cores it needs.
    /// </summary>
    /// <remarks>Past <paramref name="deadline"/> (a timestamp of the time provider) no further round of repetitions starts.</remarks>
    private double[] MeasureAll(TimedCall[] calls, int rows, long deadline)
    {
        var count = _candidates.Length;
        var callsPerRepetition = new int[count];
        var samples = new double[count][];
        var taken = new int[count];

        void WarmUp(int b)
        {
            // The first call may pay one-time costs (JIT-generated kernels, worker threads, page faults);
            // the second one estimates how many calls make a repetition.
            calls[b].Run(rows);
            var start = _time.GetTimestamp();
            calls[b].Run(rows);
            var warmUp = Math.Max(_time.GetElapsedTime(start).TotalSeconds, 1e-9);
            callsPerRepetition[b] = (int)Math.Clamp(Math.Ceiling(_options.MinRepetitionTime.TotalSeconds / warmUp), 1, 100_000);
            samples[b] = new double[RepetitionsFor(warmUp)];
        }

        void Repetition(int b, int r)
        {
            var call = calls[b];
            var perRepetition = callsPerRepetition[b];
            var start = _time.GetTimestamp();
            for (var i = 0; i < perRepetition; i++) call.Run(rows);
            samples[b][r] = _time.GetElapsedTime(start).TotalSeconds / perRepetition;
            taken[b] = r + 1;
        }

        if (_options.Interleave)
        {
            for (var b = 0; b < count; b++) WarmUp(b);
            var repetitions = samples.Max(s => s.Length);
            for (var r = 0; r < repetitions && (r == 0 || _time.GetTimestamp() < deadline); r++)
            {
                for (var b = 0; b < count; b++)
                {
                    if (r < samples[b].Length) Repetition(b, r);
                }
            }
        }
        else
        {
            for (var b = 0; b < count; b++)
            {
                if (_options.SettleTime > TimeSpan.Zero) Thread.Sleep(_options.SettleTime);
                WarmUp(b);
                for (var r = 0; r < samples[b].Length && (r == 0 || _time.GetTimestamp() < deadline); r++) Repetition(b, r);
            }
        }

        var medians = new double[count];
        for (var b = 0; b < count; b++)
        {
            var measured = samples[b].AsSpan(0, taken[b]);
            measured.Sort();
            medians[b] = measured[measured.Length / 2];
        }

        return medians;
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

    private sealed class LayerStepCall(LstmLayerKernel kernel, Random random) : TimedCall
    {
        private float[] _xh = [];
        private float[] _c = [];
        private float[] _h = [];

        public override void Ensure(int rows)
        {
            var layer = kernel.Layer;
            Grow(ref _xh, rows * layer.ConcatSize, random);
            Grow(ref _c, rows * layer.CellSize, null);
            Grow(ref _h, rows * layer.OutputSize, null);
        }

        public override void Run(int rows) => kernel.Step(rows, _xh, _c, _h);
    }
}
