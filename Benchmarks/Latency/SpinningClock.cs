using System.Diagnostics;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// A clock whose waits spin on <see cref="Stopwatch"/> instead of sleeping: the generator's thread holds a core the
/// whole run but never waits for the kernel to wake it, so a floor measured with it has no timer wake-up in it (the
/// lone-key floor's decomposition, <c>--latency-floor</c>; not for the loaded rows, where the core is the server's).
/// </summary>
internal sealed class SpinningClock : IOpenLoopClock
{
    public static readonly SpinningClock Instance = new();

    private SpinningClock()
    {
    }

    public long Now => Stopwatch.GetTimestamp();

    public void WaitUntil(long timestamp)
    {
        while (Stopwatch.GetTimestamp() < timestamp)
        {
        }
    }
}
