using System.Diagnostics;

namespace LstmStream.Benchmarks;

/// <summary>How long each measurement warms up and how it repeats.</summary>
internal sealed record MeasureSettings(TimeSpan WarmUp, TimeSpan Repetition, int Repetitions)
{
    /// <summary>Default run: long enough warm-up for the tiered JIT to reach its optimized AVX-512 code.</summary>
    public static MeasureSettings Full { get; } = new(TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(120), 5);

    /// <summary>--quick: the same procedure, shorter.</summary>
    public static MeasureSettings Quick { get; } = new(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(25), 3);

    /// <summary>Short per-matrix measurements of the ceiling (many of them per configuration).</summary>
    public MeasureSettings ForGemm() => this with { WarmUp = WarmUp / 2, Repetition = Repetition / 3 };
}

/// <summary>
/// What one measurement found: the median time per step, the bytes allocated per step and the process's CPU time per
/// step (every thread, over the timed repetitions: what a step costs, whatever else the machine runs meanwhile).
/// </summary>
internal readonly record struct Measurement(double SecondsPerStep, double AllocatedBytesPerStep, long StepsTimed, double CpuSecondsPerStep = double.NaN)
{
    public double StepsPerSecond => 1 / SecondsPerStep;
}

/// <summary>
/// The timing procedure shared by every row: warm up by time (units doubling), calibrate how many units
/// make one repetition, run the repetitions and keep the median time per step. Allocation is the total over
/// the timed repetitions divided by the steps timed, counted on the calling thread only
/// (<see cref="GC.GetAllocatedBytesForCurrentThread"/>) or over the whole process
/// (<see cref="GC.GetTotalAllocatedBytes"/>, exact) when work happens on other threads.
/// </summary>
internal static class Measure
{
    /// <summary>
    /// Measures <paramref name="run"/>, which executes the given number of units and returns the steps
    /// (key-steps) they made.
    /// </summary>
    /// <param name="run">Executes the given number of units, returns the steps they made.</param>
    /// <param name="settings">Warm-up and repetitions.</param>
    /// <param name="allThreads">Count allocations of every thread, not only the caller's.</param>
    /// <param name="stepsDone">
    /// For an engine that keeps working between calls (a free-running stream): its total steps so far, so
    /// that allocations are divided by every step made while they were counted.
    /// </param>
    public static Measurement Run(Func<int, long> run, MeasureSettings settings, bool allThreads, Func<long>? stepsDone = null)
    {
        // Warm-up for at least WarmUp, growing the unit count until one call takes a quarter of a repetition,
        // so that a fixed cost per call (a thread waking up) is small against the timed work.
        var clock = Stopwatch.StartNew();
        var units = 1;
        double secondsPerUnit;
        var quarter = settings.Repetition.TotalSeconds / 4;
        while (true)
        {
            var start = clock.Elapsed;
            run(units);
            var took = (clock.Elapsed - start).TotalSeconds;
            secondsPerUnit = Math.Max(took, 1e-9) / units;
            var grown = took >= quarter || units >= 1 << 24;
            if (clock.Elapsed >= settings.WarmUp && (grown || clock.Elapsed >= 10 * settings.WarmUp)) break;
            if (!grown) units *= 2;
        }

        var perRepetition = (int)Math.Clamp(Math.Ceiling(settings.Repetition.TotalSeconds / secondsPerUnit), 1, 1 << 26);
        var samples = new double[settings.Repetitions];
        long steps = 0;
        var doneBefore = stepsDone?.Invoke() ?? 0;
        var allocatedBefore = Allocated(allThreads);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        for (var r = 0; r < samples.Length; r++)
        {
            var start = Stopwatch.GetTimestamp();
            var made = run(perRepetition);
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (made <= 0) throw new InvalidOperationException("a benchmark repetition made no steps");
            samples[r] = seconds / made;
            steps += made;
        }

        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        var allocated = Allocated(allThreads) - allocatedBefore;
        var stepsWhileCounting = stepsDone is null ? steps : Math.Max(steps, stepsDone() - doneBefore);
        Array.Sort(samples);
        return new Measurement(samples[samples.Length / 2], (double)allocated / stepsWhileCounting, steps, cpu / stepsWhileCounting);
    }

    private static long Allocated(bool allThreads) =>
        allThreads ? GC.GetTotalAllocatedBytes(precise: true) : GC.GetAllocatedBytesForCurrentThread();
}
