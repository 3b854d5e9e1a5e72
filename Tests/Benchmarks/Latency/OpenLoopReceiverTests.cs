using System.Diagnostics;
using System.Text;
using HdrHistogram;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>The open-loop receiver: outputs timed from their records' due times, lines across reads, errors counted.</summary>
public sealed class OpenLoopReceiverTests
{
    private static readonly long Millisecond = Stopwatch.Frequency / 1000;
    private const long Start = 5_000_000_000;

    [Fact]
    public void An_output_is_timed_from_its_records_due_time_whenever_the_record_was_sent()
    {
        // 1000 records/s, the first 2 warm up: record 3 is due at 3 ms; it was sent 4 ms late and answered at 10 ms.
        var schedule = new OpenLoopSchedule(1000, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(8), Start);
        var receiver = new OpenLoopReceiver(schedule);

        Read(receiver, "{\"key\":\"k0\",\"seq\":3,\"y\":[0.5]}\n", Start + 10 * Millisecond);

        Assert.Equal(1, receiver.Received);
        Assert.Equal(1, receiver.Latency.TotalCount);
        Assert.Equal(7.0, receiver.Latency.GetMaxValue() / 1e6, 2);
    }

    [Fact]
    public void A_line_split_over_two_reads_counts_once_at_the_time_its_end_arrived_and_warm_up_records_are_not_timed()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(8), Start);
        var receiver = new OpenLoopReceiver(schedule);

        Read(receiver, "{\"key\":\"k0\",\"seq\":1,\"y\":[0.5]}\n{\"key\":\"k1\",\"se", Start + 2 * Millisecond);
        Read(receiver, "q\":4,\"y\":[0.25]}\n", Start + 6 * Millisecond);

        Assert.Equal(2, receiver.Received);
        Assert.Equal(1, receiver.Latency.TotalCount); // record 1 was a warm-up record
        Assert.Equal(2.0, receiver.Latency.GetMaxValue() / 1e6, 2); // record 4, due at 4 ms, complete at 6 ms
    }

    [Fact]
    public void Error_lines_are_counted_and_not_timed()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(8), Start);
        var receiver = new OpenLoopReceiver(schedule);

        Read(receiver, "{\"error\":\"line 3: x has 2 values, the model takes 3\",\"key\":\"k0\",\"seq\":2}\n{\"key\":\"k0\",\"seq\":2,\"y\":[1]}\n", Start + 3 * Millisecond);

        Assert.Equal(1, receiver.Errors);
        Assert.Equal(1, receiver.Received);
        Assert.Equal(1, receiver.Latency.TotalCount);
    }

    private static void Read(OpenLoopReceiver receiver, string text, long arrival)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        bytes.CopyTo(receiver.Free);
        receiver.OnRead(bytes.Length, arrival);
    }
}
