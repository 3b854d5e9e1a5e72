using System.Text;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>The open-loop generator against the benchmark's echo server (every record comes back as it went).</summary>
public sealed class OpenLoopTcpLoadTests
{
    [Fact]
    public void Every_record_comes_back_and_only_the_measured_ones_are_in_the_histogram()
    {
        using var echo = new EchoServer();
        var lines = new RecordLines(keys: 8, inputSize: 3);
        var schedule = new OpenLoopSchedule(2000, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500));

        var result = OpenLoopTcpLoad.Run(echo.Endpoint, lines, connections: 4, schedule);

        Assert.Equal(1500, schedule.Records);
        Assert.Equal(500, schedule.WarmUpRecords);
        Assert.Equal(schedule.Records, result.Received);
        Assert.Equal(0, result.Errors);
        Assert.Equal(schedule.Records - schedule.WarmUpRecords, result.Latency.Count);
        Assert.Equal(result.Latency.Count, result.SendLag.Count);
        Assert.True(result.Latency.P50 <= result.Latency.P99 && result.Latency.P99 <= result.Latency.Max);
    }

    [Fact]
    public void Connections_spread_over_several_servers_and_every_record_comes_back()
    {
        using var first = new EchoServer();
        using var second = new EchoServer();
        var lines = new RecordLines(keys: 8, inputSize: 3);

        var result = OpenLoopTcpLoad.Run([first.Endpoint, second.Endpoint], lines, connections: 4,
            new OpenLoopSchedule(2000, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300)));
        var (peak, _) = OpenLoopTcpLoad.Peak([first.Endpoint, second.Endpoint], lines, connections: 4, TimeSpan.FromMilliseconds(100),
            TimeSpan.FromMilliseconds(200), null);

        Assert.Equal(800, result.Received);
        Assert.Equal(0, result.Errors);
        Assert.True(peak > 0);
        Assert.Equal(4, first.Connections);
        Assert.Equal(4, second.Connections);
    }

    [Fact]
    public void The_echo_server_that_spins_on_its_reads_and_a_generator_that_spins_on_its_clock_still_bring_every_record_back()
    {
        using var echo = new EchoServer(busyPoll: true);
        var lines = new RecordLines(keys: 2, inputSize: 3);

        var result = OpenLoopTcpLoad.Run([echo.Endpoint], lines, connections: 2,
            new OpenLoopSchedule(1000, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100)), TimeSpan.Zero, SpinningClock.Instance);

        Assert.Equal(150, result.Received);
        Assert.Equal(0, result.Errors);
        Assert.Equal(100, result.Latency.Count);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1024, 16)]
    public void The_longest_line_of_any_key_fits_in_MaxBytes(int keys, int inputSize)
    {
        var lines = new RecordLines(keys, inputSize);
        var buffer = new byte[lines.MaxBytes];

        for (var key = 0; key < keys; key++)
        {
            Assert.True(lines.WriteLine(buffer, key, long.MaxValue) <= lines.MaxBytes);
            Assert.True(lines.Payload(key, long.MaxValue).Length <= lines.MaxBytes);
        }
    }

    [Fact]
    public void Records_are_lines_of_their_key_whose_seq_can_be_read_back()
    {
        var lines = new RecordLines(keys: 3, inputSize: 2);
        var buffer = new byte[lines.MaxBytes];

        var n = lines.WriteLine(buffer, key: 2, seq: 123456789);
        var line = Encoding.UTF8.GetString(buffer, 0, n);

        Assert.StartsWith("{\"key\":\"k2\",\"seq\":123456789,\"x\":[", line);
        Assert.EndsWith("]}\n", line);
        Assert.Equal(123456789, RecordLines.SeqOf(buffer.AsSpan(0, n)));
        Assert.Equal(42, RecordLines.SeqOf(lines.Payload(0, 42)));
        Assert.StartsWith("{\"seq\":42,\"x\":[", Encoding.UTF8.GetString(lines.Payload(0, 42)));
        Assert.Equal(-1, RecordLines.SeqOf("{\"error\":\"bad\"}"u8));
    }
}
