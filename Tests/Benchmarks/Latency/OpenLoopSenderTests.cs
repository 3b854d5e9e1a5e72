using System.Diagnostics;
using System.Text;
using HdrHistogram;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>The open-loop sender's schedule, driven by a scripted clock (no timing).</summary>
public sealed class OpenLoopSenderTests
{
    private static readonly long Millisecond = Stopwatch.Frequency / 1000;
    private const long Start = 1_000_000_000;

    [Fact]
    public void A_late_wake_up_writes_every_record_due_by_then_in_one_write_per_connection_and_counts_their_lag_from_their_due_times()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(10), Start);
        var clock = new ScriptedClock(Start - Millisecond, 5 * Millisecond + Millisecond / 2); // the first wake-up is 5.5 ms late
        var sender = new OpenLoopSender(schedule, new RecordLines(keys: 2, inputSize: 1), connections: 2, clock, TimeSpan.Zero);
        var writes = new List<string>();

        sender.Run((c, bytes) => writes.Add($"{c}: {string.Join(",", SeqsOf(bytes))}"));

        Assert.Equal(["0: 0,2,4", "1: 1,3,5", "0: 6", "1: 7", "0: 8", "1: 9"], writes);
        Assert.Equal(5, sender.WakeUps);
        Assert.Equal(6, sender.Writes);
        // Records 0 to 5 waited from their due times to the late wake-up (5.5 ms to 0.5 ms), the rest went out when due.
        var lags = sender.SendLag.RecordedValues().Select(v => (Ms: Math.Round(v.ValueIteratedTo / 1e6, 1), Count: v.CountAtValueIteratedTo)).ToList();
        Assert.Equal([(0.0, 4L), (0.5, 1L), (1.5, 1L), (2.5, 1L), (3.5, 1L), (4.5, 1L), (5.5, 1L)], lags);
    }

    [Fact]
    public void Wake_ups_are_at_least_the_minimum_gap_apart_and_each_writes_all_records_due_by_then()
    {
        var schedule = new OpenLoopSchedule(10_000, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(10), Start); // one record every 100 µs
        var clock = new ScriptedClock(Start);
        var sender = new OpenLoopSender(schedule, new RecordLines(keys: 4, inputSize: 2), connections: 4, clock, TimeSpan.FromMilliseconds(1));
        var sent = new List<long>();

        sender.Run((_, bytes) => sent.AddRange(SeqsOf(bytes)));

        Assert.Equal(Enumerable.Range(0, 120).Select(i => (long)i).Order(), sent.Order());
        Assert.All(clock.Asked.Zip(clock.Asked.Skip(1)), pair => Assert.True(pair.Second - pair.First >= Millisecond, $"{pair.First} then {pair.Second}"));
        Assert.Equal(13, sender.WakeUps); // at 0, 1, 2, ... 12 ms: records due every 100 µs go ten at a time
        Assert.Equal(100, sender.SendLag.TotalCount); // the 20 warm-up records are not counted
        Assert.True(sender.SendLag.GetMaxValue() <= 1_000_000 * 1.001, $"lag {sender.SendLag.GetMaxValue()} ns"); // at most the gap
    }

    [Fact]
    public void A_key_keeps_its_connection_and_its_order()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(50), Start);
        var clock = new ScriptedClock(Start, 0, 7 * Millisecond, 0, 3 * Millisecond);
        var lines = new RecordLines(keys: 6, inputSize: 1);
        var sender = new OpenLoopSender(schedule, lines, connections: 3, clock, TimeSpan.FromMilliseconds(2));
        var byConnection = new Dictionary<int, List<string>>();

        sender.Run((c, bytes) =>
        {
            if (!byConnection.TryGetValue(c, out var list)) byConnection[c] = list = [];
            list.AddRange(Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        });

        Assert.Equal(50, byConnection.Values.Sum(l => l.Count));
        foreach (var (connection, lineList) in byConnection)
        {
            foreach (var line in lineList)
            {
                var seq = RecordLines.SeqOf(Encoding.UTF8.GetBytes(line));
                Assert.StartsWith($"{{\"key\":\"k{seq % 6}\",", line);
                Assert.Equal(connection, seq % 6 % 3);
            }

            var seqs = lineList.Select(l => RecordLines.SeqOf(Encoding.UTF8.GetBytes(l))).ToList();
            Assert.Equal(seqs.Order(), seqs);
        }
    }

    [Fact]
    public void Keys_that_do_not_spread_evenly_over_the_connections_are_refused()
    {
        var schedule = new OpenLoopSchedule(1000, TimeSpan.Zero, TimeSpan.FromMilliseconds(10), Start);

        var error = Assert.Throws<ArgumentException>(() => new OpenLoopSender(schedule, new RecordLines(keys: 5, inputSize: 1), 2, new ScriptedClock(Start), TimeSpan.Zero));

        Assert.Contains("5 keys cannot be spread evenly over 2 connections", error.Message);
    }

    private static long[] SeqsOf(ReadOnlySpan<byte> bytes) =>
        Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => RecordLines.SeqOf(Encoding.UTF8.GetBytes(l))).ToArray();
}
