using System.Diagnostics;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>Processor time samples of the latency benchmark.</summary>
public sealed class CpuSampleTests
{
    [Fact]
    public void Processor_time_this_process_spent_between_two_samples_counts_for_the_generator_and_the_machine()
    {
        var before = CpuSample.Take(null);
        using (var self = Process.GetCurrentProcess())
        {
            // Busy until this process has used at least 50 ms of processor time, however long that takes here.
            var start = self.TotalProcessorTime;
            while (true)
            {
                self.Refresh();
                if (self.TotalProcessorTime - start >= TimeSpan.FromMilliseconds(50)) break;
            }
        }

        var use = CpuSample.Take(null).Since(before);

        Assert.True(use.GeneratorCores > 0, $"generator cores {use.GeneratorCores}");
        Assert.Null(use.ServeCores);
        if (OperatingSystem.IsLinux()) Assert.InRange(use.MachineBusyCores, double.Epsilon, Environment.ProcessorCount + 0.01);
    }
}
