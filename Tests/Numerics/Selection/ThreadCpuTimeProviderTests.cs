using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Tests.Numerics.Selection;

public class ThreadCpuTimeProviderTests
{
    [Fact]
    public void The_thread_cpu_clock_advances_with_work_and_not_while_the_thread_sleeps()
    {
        var clock = ThreadCpuTimeProvider.Create();
        if (!OperatingSystem.IsLinux())
        {
            Assert.Same(TimeProvider.System, clock);
            return;
        }

        Assert.IsType<ThreadCpuTimeProvider>(clock);
        var before = clock.GetTimestamp();
        Thread.Sleep(300);
        var slept = clock.GetElapsedTime(before);
        // Sleeping uses (almost) no CPU time: far less than the 300 ms of wall time.
        Assert.True(slept < TimeSpan.FromMilliseconds(150), $"{slept.TotalMilliseconds} ms of CPU time while sleeping 300 ms");

        before = clock.GetTimestamp();
        var x = 0.0;
        for (var i = 0; i < 20_000_000; i++) x += Math.Sqrt(i);
        Assert.True(x > 0);
        Assert.True(clock.GetElapsedTime(before) > TimeSpan.Zero);
    }
}
