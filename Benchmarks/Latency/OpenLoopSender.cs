using System.Diagnostics;
using HdrHistogram;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop generator's sending side, one thread for all connections: it sleeps until the next record is due
/// (or, when records come closer together than <see cref="MinimumGap"/>, until that much after its last wake-up),
/// then formats every record due by now into its connection's buffer and writes each connection's buffer in one
/// write. Record <c>i</c> travels on connection <c>(i mod keys) mod connections</c>, so a key keeps its connection
/// and its order.
/// <para>
/// The schedule stays fixed whatever the clock does: a wake-up that comes late sends everything due by then in one
/// go, and the time a record waited in the generator is reported as send lag (due time to the wake-up that wrote
/// it) and is part of its latency, which the receiver counts from the due time too (no coordinated omission).
/// The gap bounds the processor time of the generator: a wake-up and a loopback write cost some 10–30 µs of CPU
/// each whatever they carry, so at tens of thousands of records per second one wake-up per record would take a
/// core of its own from the server it measures; with the gap each write carries every record due within it, at
/// the price of at most that gap of send lag.
/// </para>
/// </summary>
internal sealed class OpenLoopSender
{
    /// <summary>Writes <paramref name="bytes"/> (whole NDJSON lines) to connection <paramref name="connection"/>, blocking until written.</summary>
    public delegate void ConnectionWrite(int connection, ReadOnlySpan<byte> bytes);

    /// <summary>The default least time between two wake-ups (200 µs).</summary>
    public static readonly TimeSpan DefaultMinimumGap = TimeSpan.FromMicroseconds(200);

    private const int BufferBytes = 1 << 16;

    private readonly OpenLoopSchedule _schedule;
    private readonly RecordLines _lines;
    private readonly int _connections;
    private readonly IOpenLoopClock _clock;
    private readonly long _gapTicks;

    public OpenLoopSender(OpenLoopSchedule schedule, RecordLines lines, int connections, IOpenLoopClock clock, TimeSpan minimumGap)
    {
        if (connections < 1 || lines.Keys % connections != 0)
            throw new ArgumentException($"{lines.Keys} keys cannot be spread evenly over {connections} connections", nameof(connections));
        if (minimumGap < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(minimumGap), minimumGap, "the gap cannot be negative");
        if (lines.MaxBytes > BufferBytes) throw new ArgumentException($"records of {lines.MaxBytes} bytes do not fit the {BufferBytes}-byte send buffer", nameof(lines));
        _schedule = schedule;
        _lines = lines;
        _connections = connections;
        _clock = clock;
        MinimumGap = minimumGap;
        _gapTicks = (long)(minimumGap.TotalSeconds * Stopwatch.Frequency);
    }

    public TimeSpan MinimumGap { get; }

    /// <summary>Due time to the wake-up that wrote the record, nanoseconds, over the measured records.</summary>
    public LongHistogram SendLag { get; } = LatencySummary.NewHistogram();

    /// <summary>Wake-ups that wrote something.</summary>
    public long WakeUps { get; private set; }

    /// <summary>Writes made, over all connections.</summary>
    public long Writes { get; private set; }

    /// <summary>The connection record <paramref name="i"/> travels on.</summary>
    public int ConnectionOf(long i) => (int)(i % _lines.Keys % _connections);

    /// <summary>Sends every record of the schedule through <paramref name="write"/>, each when due; returns after the last write.</summary>
    public void Run(ConnectionWrite write)
    {
        var buffers = new byte[_connections][];
        for (var c = 0; c < _connections; c++) buffers[c] = new byte[BufferBytes];
        var filled = new int[_connections];
        var i = 0L;
        var lastWake = long.MinValue;
        while (i < _schedule.Records)
        {
            var due = _schedule.DueAt(i);
            _clock.WaitUntil(lastWake == long.MinValue ? due : Math.Max(due, lastWake + _gapTicks));
            var now = _clock.Now;
            lastWake = now;
            WakeUps++;
            for (; i < _schedule.Records && (due = _schedule.DueAt(i)) <= now; i++)
            {
                var c = ConnectionOf(i);
                if (filled[c] + _lines.MaxBytes > BufferBytes) Flush(write, c, buffers[c], ref filled[c]);
                if (i >= _schedule.WarmUpRecords) LatencySummary.Record(SendLag, now - due);
                filled[c] += _lines.WriteLine(buffers[c].AsSpan(filled[c]), (int)(i % _lines.Keys), i);
            }

            for (var c = 0; c < _connections; c++) Flush(write, c, buffers[c], ref filled[c]);
        }
    }

    private void Flush(ConnectionWrite write, int connection, byte[] buffer, ref int filled)
    {
        if (filled == 0) return;
        write(connection, buffer.AsSpan(0, filled));
        Writes++;
        filled = 0;
    }
}
