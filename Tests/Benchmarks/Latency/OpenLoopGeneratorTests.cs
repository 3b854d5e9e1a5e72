using System.Diagnostics;
using System.Text;
using HdrHistogram;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>The open-loop generator's schedule, writes and reads, driven by a scripted clock and scripted connections (no timing).</summary>
public sealed class OpenLoopGeneratorTests
{
    private static readonly long Millisecond = Stopwatch.Frequency / 1000;
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(30);
    private const long Start = 1_000_000_000;

    [Fact]
    public void A_late_tick_writes_every_record_due_by_then_in_one_write_per_connection_and_counts_their_lag_from_their_due_times()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(10), Start);
        var clock = new ScriptedClock(Start - Millisecond, 5 * Millisecond + Millisecond / 2); // the first tick is 5.5 ms late
        var connections = new ScriptedConnections(clock, 2, answerDelay: 0);
        var generator = new OpenLoopGenerator(schedule, new RecordLines(keys: 2, inputSize: 1), connections: 2, clock, TimeSpan.Zero);

        generator.Run(connections, Idle);

        Assert.Equal(["0: 0,2,4", "1: 1,3,5", "0: 6", "1: 7", "0: 8", "1: 9"], connections.Writes.Select(w => $"{w.Connection}: {string.Join(",", SeqsOf(w.Text))}"));
        Assert.Equal(6, generator.Writes);
        // Records 0 to 5 waited from their due times to the late tick (5.5 ms to 0.5 ms), the rest went out when due.
        var lags = generator.SendLag.RecordedValues().Select(v => (Ms: Math.Round(v.ValueIteratedTo / 1e6, 1), Count: v.CountAtValueIteratedTo)).ToList();
        Assert.Equal([(0.0, 4L), (0.5, 1L), (1.5, 1L), (2.5, 1L), (3.5, 1L), (4.5, 1L), (5.5, 1L)], lags);
        Assert.Equal(10, generator.Answered);
    }

    [Fact]
    public void Ticks_are_at_least_the_gap_apart_and_each_writes_all_records_due_by_then()
    {
        var schedule = new OpenLoopSchedule(10_000, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(10), Start); // one record every 100 µs
        var clock = new ScriptedClock(Start);
        var connections = new ScriptedConnections(clock, 4, answerDelay: Millisecond / 2);
        var generator = new OpenLoopGenerator(schedule, new RecordLines(keys: 4, inputSize: 2), connections: 4, clock, TimeSpan.FromMilliseconds(1));

        generator.Run(connections, Idle);

        Assert.Equal(Enumerable.Range(0, 120).Select(i => (long)i), connections.Writes.SelectMany(w => SeqsOf(w.Text)).Order());
        Assert.All(clock.Asked.Zip(clock.Asked.Skip(1)), pair => Assert.True(pair.Second - pair.First >= Millisecond, $"{pair.First} then {pair.Second}"));
        Assert.Equal(14, generator.Ticks); // at 0, 1, ... 12 ms: records due every 100 µs go ten at a time; at 13 ms the last answers are read
        Assert.Equal(100, generator.SendLag.TotalCount); // the 20 warm-up records are not counted
        Assert.True(generator.SendLag.GetMaxValue() <= 1_000_000 * 1.001, $"lag {generator.SendLag.GetMaxValue()} ns"); // at most the gap
        Assert.Equal(120, generator.Answered);
    }

    [Fact]
    public void Answers_read_on_a_later_tick_are_timed_from_when_they_arrived_not_from_when_they_were_read()
    {
        // 100 records/s, a 2 ms gap: each answer arrives 0.3 ms after its record went out and is read on the next tick, 2 ms later.
        var schedule = new OpenLoopSchedule(100, TimeSpan.Zero, TimeSpan.FromMilliseconds(50), Start);
        var clock = new ScriptedClock(Start);
        var connections = new ScriptedConnections(clock, 1, answerDelay: 3 * Millisecond / 10);
        var generator = new OpenLoopGenerator(schedule, new RecordLines(keys: 1, inputSize: 1), connections: 1, clock, TimeSpan.FromMilliseconds(2));

        generator.Run(connections, Idle);

        Assert.Equal(5, generator.Answered);
        Assert.All(connections.ReadTimes, read => Assert.Equal(2 * Millisecond, (read - Start) % (10 * Millisecond)));
        Assert.Equal([0.3], generator.Receivers[0].Latency.RecordedValues().Select(v => Math.Round(v.ValueIteratedTo / 1e6, 2)).Distinct());
        // Between records the thread sleeps until the next one is due once nothing is outstanding: a tick per record and one per answer.
        Assert.Equal(10, generator.Ticks);
    }

    [Fact]
    public void The_time_from_the_generators_write_leaves_out_how_late_the_generator_woke()
    {
        // The first tick is 5.5 ms late: records 0 to 5 wait for it, and every answer arrives 0.3 ms after its write.
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(10), Start);
        var clock = new ScriptedClock(Start, 5 * Millisecond + Millisecond / 2);
        var connections = new ScriptedConnections(clock, 1, answerDelay: 3 * Millisecond / 10);
        var generator = new OpenLoopGenerator(schedule, new RecordLines(keys: 1, inputSize: 1), connections: 1, clock, TimeSpan.Zero);

        generator.Run(connections, Idle);

        var receiver = generator.Receivers[0];
        Assert.Equal(10, receiver.FromWrite.TotalCount);
        Assert.Equal([0.3], receiver.FromWrite.RecordedValues().Select(v => Math.Round(v.ValueIteratedTo / 1e6, 2)).Distinct());
        Assert.Equal(5.8, Math.Round(receiver.Latency.GetMaxValue() / 1e6, 1)); // record 0: 5.5 ms late, then the 0.3 ms round trip
    }

    [Fact]
    public void A_full_connection_keeps_what_it_did_not_take_for_later_ticks_in_order_and_sending_is_finished_after_the_last_byte()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(20), Start);
        var clock = new ScriptedClock(Start);
        var connections = new ScriptedConnections(clock, 2, answerDelay: 0) { TakePerWrite = 7 };
        var lines = new RecordLines(keys: 2, inputSize: 3);
        var generator = new OpenLoopGenerator(schedule, lines, connections: 2, clock, TimeSpan.FromMilliseconds(1));

        generator.Run(connections, Idle);

        foreach (var c in new[] { 0, 1 })
        {
            var text = string.Concat(connections.Writes.Where(w => w.Connection == c).Select(w => w.Text));
            Assert.Equal(Enumerable.Range(0, 10).Select(k => (long)(2 * k + c)), SeqsOf(text));
        }

        Assert.All(connections.Writes, w => Assert.True(w.Text.Length <= 7));
        Assert.Equal([0, 1], connections.Finished.Order());
        Assert.Equal(20, generator.Answered);
    }

    [Fact]
    public void A_key_keeps_its_connection_and_its_order()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(50), Start);
        var clock = new ScriptedClock(Start, 0, 7 * Millisecond, 0, 3 * Millisecond);
        var connections = new ScriptedConnections(clock, 3, answerDelay: Millisecond);
        var generator = new OpenLoopGenerator(schedule, new RecordLines(keys: 6, inputSize: 1), connections: 3, clock, TimeSpan.FromMilliseconds(2));

        generator.Run(connections, Idle);

        Assert.Equal(50, connections.Writes.Sum(w => SeqsOf(w.Text).Length));
        foreach (var group in connections.Writes.GroupBy(w => w.Connection))
        {
            var lineList = group.SelectMany(w => w.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries)).ToList();
            foreach (var line in lineList)
            {
                var seq = RecordLines.SeqOf(Encoding.UTF8.GetBytes(line));
                Assert.StartsWith($"{{\"key\":\"k{seq % 6}\",", line);
                Assert.Equal(group.Key, seq % 6 % 3);
            }

            var seqs = lineList.Select(l => RecordLines.SeqOf(Encoding.UTF8.GetBytes(l))).ToList();
            Assert.Equal(seqs.Order(), seqs);
        }
    }

    [Fact]
    public void Without_answers_the_run_ends_after_the_idle_timeout_and_what_is_missing_counts_as_lost()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(5), Start);
        var clock = new ScriptedClock(Start);
        var connections = new ScriptedConnections(clock, 1, answerDelay: 0, answering: false);
        var generator = new OpenLoopGenerator(schedule, new RecordLines(keys: 1, inputSize: 1), connections: 1, clock, TimeSpan.FromMilliseconds(1));

        generator.Run(connections, TimeSpan.FromMilliseconds(100));

        Assert.Equal(5, connections.Writes.Sum(w => SeqsOf(w.Text).Length));
        Assert.Equal(0, generator.Answered);
        Assert.InRange(clock.Now - Start, 100 * Millisecond, 102 * Millisecond); // it gave up once 100 ms passed without data
    }

    [Fact]
    public void A_read_that_leaves_room_in_the_buffer_is_the_last_read_of_its_connection_in_that_tick()
    {
        var schedule = new OpenLoopSchedule(10_000, TimeSpan.Zero, TimeSpan.FromMilliseconds(20), Start);
        var clock = new ScriptedClock(Start);
        var connections = new ScriptedConnections(clock, 4, answerDelay: Millisecond / 10);
        var generator = new OpenLoopGenerator(schedule, new RecordLines(keys: 8, inputSize: 1), connections: 4, clock, TimeSpan.FromMilliseconds(1));

        generator.Run(connections, Idle);

        Assert.Equal(200, generator.Answered);
        Assert.All(connections.ReceiveCalls.GroupBy(call => call), calls => Assert.Single(calls));
        Assert.Equal(connections.ReceiveCalls.Count, generator.ReadCalls);
    }

    [Fact]
    public void A_read_that_fills_the_buffer_is_followed_by_another_in_the_same_tick_and_a_line_split_between_them_counts_once()
    {
        // 20,000 records all due before the first tick, answered at once: their answers (~20 bytes each) are more than one read's buffer holds.
        var schedule = new OpenLoopSchedule(1_000_000, TimeSpan.Zero, TimeSpan.FromMilliseconds(20), Start);
        var clock = new ScriptedClock(Start, 20 * Millisecond);
        var connections = new ScriptedConnections(clock, 1, answerDelay: 0);
        var generator = new OpenLoopGenerator(schedule, new RecordLines(keys: 1, inputSize: 1), connections: 1, clock, TimeSpan.FromMilliseconds(1));

        generator.Run(connections, Idle);

        Assert.Equal(20_000, generator.Receivers[0].Received);
        Assert.Equal(0, generator.Receivers[0].Errors);
        var busiest = connections.ReceiveCalls.GroupBy(call => call.Time).Max(calls => calls.Count());
        Assert.True(busiest >= 2, $"at most {busiest} read(s) in one tick");
    }

    [Fact]
    public void Keys_that_do_not_spread_evenly_over_the_connections_are_refused()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(10), Start);

        var error = Assert.Throws<ArgumentException>(() => new OpenLoopGenerator(schedule, new RecordLines(keys: 5, inputSize: 1), 2, new ScriptedClock(Start), TimeSpan.Zero));

        Assert.Contains("5 keys cannot be spread evenly over 2 connections", error.Message);
    }

    private static long[] SeqsOf(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => RecordLines.SeqOf(Encoding.UTF8.GetBytes(l))).ToArray();
}
