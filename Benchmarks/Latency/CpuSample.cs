using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// Processor time at one instant: the load generator's (this process), <c>serve</c>'s (when measured) and the whole
/// machine's busy share (<c>/proc/stat</c>, every process of every user). Two samples give the cores each used in
/// between (<see cref="Since"/>): whether the generator and <c>serve</c> together had the machine's cores to spare.
/// </summary>
internal readonly record struct CpuSample(long Timestamp, TimeSpan Generator, TimeSpan? Serve, long MachineBusy, long MachineTotal)
{
    public static CpuSample Take(Process? serve)
    {
        TimeSpan? serveTime = null;
        if (serve is not null)
        {
            try
            {
                serve.Refresh();
                serveTime = serve.TotalProcessorTime;
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // The process has exited: its time is not known.
            }
        }

        var (busy, total) = MachineTicks();
        using var self = Process.GetCurrentProcess();
        return new CpuSample(Stopwatch.GetTimestamp(), self.TotalProcessorTime, serveTime, busy, total);
    }

    /// <summary>The cores used between <paramref name="earlier"/> and this sample.</summary>
    public CpuUse Since(CpuSample earlier)
    {
        var seconds = Stopwatch.GetElapsedTime(earlier.Timestamp, Timestamp).TotalSeconds;
        if (seconds <= 0) return new CpuUse(double.NaN, null, double.NaN);
        double? serve = Serve is { } s && earlier.Serve is { } e ? (s - e).TotalSeconds / seconds : null;
        var machineTotal = MachineTotal - earlier.MachineTotal;
        var machine = machineTotal > 0 ? (double)(MachineBusy - earlier.MachineBusy) / machineTotal * Environment.ProcessorCount : double.NaN;
        return new CpuUse((Generator - earlier.Generator).TotalSeconds / seconds, serve, machine);
    }

    /// <summary>The machine's busy and total time since boot (<c>/proc/stat</c>, idle and iowait count as not busy); zeros elsewhere.</summary>
    private static (long Busy, long Total) MachineTicks()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
            var values = fields.Skip(1).Take(8).Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var total = values.Sum();
            return (total - values[3] - values[4], total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return (0, 0);
        }
    }
}

/// <summary>Cores used over a measured phase: the load generator, <c>serve</c> (null for the echo floor) and the whole machine.</summary>
internal sealed record CpuUse(
    [property: JsonPropertyName("generator_cores")] double GeneratorCores,
    [property: JsonPropertyName("serve_cores")] double? ServeCores,
    [property: JsonPropertyName("machine_busy_cores")] double MachineBusyCores)
{
    /// <summary>
    /// Processor time per record at <paramref name="recordsPerSecond"/>, in microseconds: the generator's and serve's.
    /// What a record costs each side tells whether the rate fits the cores they got, whatever else runs on the machine.
    /// </summary>
    public (double Generator, double? Serve) MicrosecondsPerRecord(double recordsPerSecond) =>
        (GeneratorCores / recordsPerSecond * 1e6, ServeCores / recordsPerSecond * 1e6);
}
