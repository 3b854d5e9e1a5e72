using System.Diagnostics;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// <see cref="Stopwatch"/> time, and waits that do not spin: on Linux an absolute <c>clock_nanosleep</c> on the
/// monotonic clock <see cref="Stopwatch"/> reads (<see cref="PreciseSleep"/>: wakes within tens of microseconds, the
/// CPU stays free for the server); elsewhere millisecond sleeps, then yielding until then.
/// </summary>
internal sealed class MonotonicClock : IOpenLoopClock
{
    public static readonly MonotonicClock Instance = new();

    private MonotonicClock()
    {
    }

    public long Now => Stopwatch.GetTimestamp();

    public void WaitUntil(long timestamp)
    {
        if (PreciseSleep.IsAvailable)
        {
            PreciseSleep.Until(timestamp);
            return;
        }

        while (true)
        {
            var remaining = timestamp - Stopwatch.GetTimestamp();
            if (remaining <= 0) return;
            var ms = remaining * 1000.0 / Stopwatch.Frequency;
            if (ms > 2) Thread.Sleep((int)(ms - 1));
            else Thread.Yield();
        }
    }
}
