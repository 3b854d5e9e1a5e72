namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop generator's clock, in <see cref="System.Diagnostics.Stopwatch"/> ticks: what time it is and a wait
/// until a given time. <see cref="MonotonicClock"/> is the real one; tests use a clock that jumps, so a sender that
/// wakes late can be tested without timing anything.
/// </summary>
internal interface IOpenLoopClock
{
    long Now { get; }

    /// <summary>Returns at or after <paramref name="timestamp"/> (at once when it has passed).</summary>
    void WaitUntil(long timestamp);
}
