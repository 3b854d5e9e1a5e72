using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// Sleeping until a <see cref="Stopwatch"/> timestamp with <c>clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)</c>
/// (Linux, where <see cref="Stopwatch"/> counts nanoseconds of that clock). The calling thread's timer slack is set
/// to 1 µs the first time, so the kernel does not defer the wake-up by its default 50 µs.
/// </summary>
internal static partial class PreciseSleep
{
    private const int ClockMonotonic = 1;
    private const int TimerAbsolute = 1;
    private const int PrSetTimerSlack = 29;
    private const int Interrupted = 4;

    [ThreadStatic] private static bool _slackSet;

    public static bool IsAvailable { get; } = OperatingSystem.IsLinux() && Stopwatch.Frequency == 1_000_000_000;

    public static void Until(long due)
    {
        if (!_slackSet)
        {
            _ = Prctl(PrSetTimerSlack, 1000, 0, 0, 0);
            _slackSet = true;
        }

        var time = new TimeSpec { Seconds = due / 1_000_000_000, Nanoseconds = due % 1_000_000_000 };
        while (ClockNanosleep(ClockMonotonic, TimerAbsolute, ref time, IntPtr.Zero) == Interrupted)
        {
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_nanosleep")]
    private static partial int ClockNanosleep(int clock, int flags, ref TimeSpec time, IntPtr remaining);

    [LibraryImport("libc", EntryPoint = "prctl")]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);
}
