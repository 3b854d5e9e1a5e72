using System.Runtime.InteropServices;

namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// A clock that advances only while the calling thread runs on a CPU (Linux: <c>CLOCK_THREAD_CPUTIME_ID</c>), for
/// timing backends that run on the calling thread alone (one thread each): time the thread spends preempted by other
/// processes on a shared machine does not count, so a busy spell does not hand a layer to the wrong backend. Where
/// the clock is not available (not Linux), <see cref="Create"/> gives the system's wall clock.
/// </summary>
internal sealed class ThreadCpuTimeProvider : TimeProvider
{
    private const int ClockThreadCpuTimeId = 3;

    private ThreadCpuTimeProvider()
    {
    }

    /// <summary>The thread CPU-time clock where it is available, else <see cref="TimeProvider.System"/>.</summary>
    public static TimeProvider Create()
    {
        if (!OperatingSystem.IsLinux()) return System;
        try
        {
            return clock_gettime(ClockThreadCpuTimeId, out _) == 0 ? new ThreadCpuTimeProvider() : System;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return System;
        }
    }

    public override long TimestampFrequency => 1_000_000_000;

    /// <summary>Nanoseconds of CPU time the calling thread has used.</summary>
    public override long GetTimestamp()
    {
        clock_gettime(ClockThreadCpuTimeId, out var now);
        return now.Seconds * 1_000_000_000 + now.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int clock_gettime(int clock, out TimeSpec time);
}
