using System.Diagnostics;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// Send times fixed before the run: record <c>i</c> is due at <c>start + i / rate</c>, whatever happened to the
/// records before it, and its latency is counted from that time (no coordinated omission: a slow answer, or a
/// sender that fell behind, shows up as latency instead of lowering the offered load). The first
/// <see cref="WarmUpRecords"/> records warm up and are not counted.
/// </summary>
internal sealed class OpenLoopSchedule
{
    private readonly double _ticksPerRecord;

    public OpenLoopSchedule(double ratePerSecond, TimeSpan warmUp, TimeSpan measured)
    {
        if (!(ratePerSecond > 0)) throw new ArgumentOutOfRangeException(nameof(ratePerSecond), ratePerSecond, "the rate must be positive");
        RatePerSecond = ratePerSecond;
        _ticksPerRecord = Stopwatch.Frequency / ratePerSecond;
        WarmUpRecords = (long)(ratePerSecond * warmUp.TotalSeconds);
        Records = WarmUpRecords + Math.Max(1, (long)(ratePerSecond * measured.TotalSeconds));
        // A little time for the sender threads to start before the first record is due.
        Start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
    }

    public double RatePerSecond { get; }

    /// <summary>Records in the whole run, warm-up included.</summary>
    public long Records { get; }

    public long WarmUpRecords { get; }

    public long Start { get; }

    /// <summary>When record <paramref name="i"/> is due (a <see cref="Stopwatch"/> timestamp).</summary>
    public long DueAt(long i) => Start + (long)(i * _ticksPerRecord);

    /// <summary>
    /// Sleeps until <paramref name="due"/> without spinning: on Linux an absolute <c>clock_nanosleep</c> on the
    /// monotonic clock <see cref="Stopwatch"/> reads (wakes within tens of microseconds, the CPU stays free for the
    /// server); elsewhere millisecond sleeps, then yielding until then.
    /// </summary>
    public static void WaitUntil(long due)
    {
        if (PreciseSleep.IsAvailable)
        {
            PreciseSleep.Until(due);
            return;
        }

        while (true)
        {
            var remaining = due - Stopwatch.GetTimestamp();
            if (remaining <= 0) return;
            var ms = remaining * 1000.0 / Stopwatch.Frequency;
            if (ms > 2) Thread.Sleep((int)(ms - 1));
            else Thread.Yield();
        }
    }
}
