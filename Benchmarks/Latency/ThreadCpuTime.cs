using System.Runtime.InteropServices;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The processor time the calling thread has used (<c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c> on Linux), so the
/// open-loop generator's own cost can be told apart from the rest of the benchmark process (the in-process echo
/// server, the runtime's idle threads, the JIT). Null elsewhere.
/// </summary>
internal static partial class ThreadCpuTime
{
    private const int ClockThreadCpuTime = 3;

    public static TimeSpan? Now()
    {
        if (!OperatingSystem.IsLinux()) return null;
        var time = new TimeSpec();
        return ClockGetTime(ClockThreadCpuTime, ref time) == 0 ? TimeSpan.FromTicks(time.Seconds * TimeSpan.TicksPerSecond + time.Nanoseconds / 100) : null;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, ref TimeSpec time);
}
