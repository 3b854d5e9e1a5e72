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

    /// <summary>A schedule starting a tenth of a second from now, so the sender threads can start before the first record is due.</summary>
    public OpenLoopSchedule(double ratePerSecond, TimeSpan warmUp, TimeSpan measured)
        : this(ratePerSecond, warmUp, measured, Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10)
    {
    }

    /// <param name="start">When record 0 is due (a <see cref="Stopwatch"/> timestamp).</param>
    public OpenLoopSchedule(double ratePerSecond, TimeSpan warmUp, TimeSpan measured, long start)
    {
        if (!(ratePerSecond > 0)) throw new ArgumentOutOfRangeException(nameof(ratePerSecond), ratePerSecond, "the rate must be positive");
        RatePerSecond = ratePerSecond;
        _ticksPerRecord = Stopwatch.Frequency / ratePerSecond;
        WarmUpRecords = (long)(ratePerSecond * warmUp.TotalSeconds);
        Records = WarmUpRecords + Math.Max(1, (long)(ratePerSecond * measured.TotalSeconds));
        Start = start;
    }

    public double RatePerSecond { get; }

    /// <summary>Records in the whole run, warm-up included.</summary>
    public long Records { get; }

    public long WarmUpRecords { get; }

    public long Start { get; }

    /// <summary>When record <paramref name="i"/> is due (a <see cref="Stopwatch"/> timestamp).</summary>
    public long DueAt(long i) => Start + (long)(i * _ticksPerRecord);
}
