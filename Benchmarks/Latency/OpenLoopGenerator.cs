using System.Diagnostics;
using HdrHistogram;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop generator, one thread for all connections and both directions: it sleeps until the next tick,
/// formats every record due by then into its connection's backlog, writes each backlog in one non-blocking write,
/// and reads whatever came back on every connection, once per connection unless the read filled the buffer
/// (<see cref="OpenLoopReceiver"/>: per output, the time from its record's due time to its arrival). Record <c>i</c> travels on connection <c>(i mod keys) mod connections</c>, so
/// a key keeps its connection and its order.
/// <para>
/// Ticks are at least <see cref="Gap"/> apart; while answers are outstanding the thread also wakes every
/// <see cref="ReadInterval"/> to read them, and otherwise sleeps until the next record is due. A wake-up, a write
/// and a read cost some microseconds of processor time each whatever they carry, so the generator's cost is per
/// tick, not per record or per output: at tens of thousands of records per second a thread that woke for every
/// record, and a receiver that woke for every write of the server, would take a core from the server it measures.
/// Reading on ticks does not delay the measurement: each read carries the time its data arrived at the socket (the
/// kernel's receive timestamp, <see cref="LoopbackTcpConnections"/>), not the time it was read.
/// </para>
/// <para>
/// The schedule stays fixed whatever the clock or the server does: a tick that comes late sends everything due by
/// then, a connection whose socket is full keeps its backlog for the next tick, and the time a record waited in the
/// generator (due time to the tick that formatted it) is reported as send lag and is part of its latency, which the
/// receiver counts from the due time too (no coordinated omission).
/// </para>
/// </summary>
internal sealed class OpenLoopGenerator
{
    /// <summary>The default least time between two ticks (200 µs).</summary>
    public static readonly TimeSpan DefaultGap = TimeSpan.FromMicroseconds(200);

    /// <summary>The least time between two reads while answers are outstanding, when the gap is shorter.</summary>
    private static readonly TimeSpan LeastReadInterval = TimeSpan.FromMicroseconds(50);

    private const int MostReadsPerTick = 64;

    private readonly OpenLoopSchedule _schedule;
    private readonly RecordLines _lines;
    private readonly int _connections;
    private readonly IOpenLoopClock _clock;
    private readonly long _gapTicks;
    private readonly long _readTicks;

    /// <summary>Per record, the tick that formatted it into its connection's backlog (its write, or the first try of it).</summary>
    private readonly long[] _writtenAt;

    public OpenLoopGenerator(OpenLoopSchedule schedule, RecordLines lines, int connections, IOpenLoopClock clock, TimeSpan gap)
    {
        if (connections < 1 || lines.Keys % connections != 0)
            throw new ArgumentException($"{lines.Keys} keys cannot be spread evenly over {connections} connections", nameof(connections));
        if (gap < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(gap), gap, "the gap cannot be negative");
        _schedule = schedule;
        _lines = lines;
        _connections = connections;
        _clock = clock;
        Gap = gap;
        ReadInterval = gap > LeastReadInterval ? gap : LeastReadInterval;
        _gapTicks = (long)(gap.TotalSeconds * Stopwatch.Frequency);
        _readTicks = (long)(ReadInterval.TotalSeconds * Stopwatch.Frequency);
        _writtenAt = new long[schedule.Records];
        Receivers = Enumerable.Range(0, connections).Select(_ => new OpenLoopReceiver(schedule, _writtenAt)).ToArray();
    }

    /// <summary>The least time between two ticks that send.</summary>
    public TimeSpan Gap { get; }

    /// <summary>The time between two reads while answers are outstanding (the gap, at least 50 µs).</summary>
    public TimeSpan ReadInterval { get; }

    /// <summary>Each connection's outputs (latency from due time, counts).</summary>
    public IReadOnlyList<OpenLoopReceiver> Receivers { get; }

    /// <summary>Due time to the tick that formatted the record, nanoseconds, over the measured records.</summary>
    public LongHistogram SendLag { get; } = LatencySummary.NewHistogram();

    /// <summary>Ticks (wake-ups) over the run.</summary>
    public long Ticks { get; private set; }

    /// <summary>Writes that took bytes, over all connections.</summary>
    public long Writes { get; private set; }

    /// <summary>Reads that returned bytes, over all connections.</summary>
    public long Reads { get; private set; }

    /// <summary>Reads asked for, over all connections, including those that found nothing.</summary>
    public long ReadCalls { get; private set; }

    /// <summary>Processor time the generator's thread used over the whole run (warm-up included); null where it cannot be read.</summary>
    public TimeSpan? ThreadCpu { get; private set; }

    /// <summary>Outputs and error lines received so far.</summary>
    public long Answered
    {
        get
        {
            var answered = 0L;
            foreach (var receiver in Receivers) answered += receiver.Received + receiver.Errors;
            return answered;
        }
    }

    /// <summary>The connection record <paramref name="i"/> travels on.</summary>
    public int ConnectionOf(long i) => (int)(i % _lines.Keys % _connections);

    /// <summary>
    /// Sends every record of the schedule, each when due, and reads the answers; returns once every record was
    /// answered, every connection was closed by the peer, or nothing arrived for <paramref name="idleTimeout"/>
    /// while answers were outstanding (what is missing counts as lost). Sending is finished (half-close) on every
    /// connection once its last record was written.
    /// </summary>
    public void Run(IOpenLoopConnections connections, TimeSpan idleTimeout)
    {
        // The thread's own processor time (Linux); elsewhere the clock is the wall clock and the figure stays unknown.
        var cpu = ThreadCpuTimeProvider.Create();
        var cpuAtStart = cpu.GetTimestamp();
        try
        {
            Loop(connections, idleTimeout);
        }
        finally
        {
            if (cpu is ThreadCpuTimeProvider) ThreadCpu = cpu.GetElapsedTime(cpuAtStart);
        }
    }

    private void Loop(IOpenLoopConnections connections, TimeSpan idleTimeout)
    {
        var backlogs = Enumerable.Range(0, _connections).Select(_ => new SendBacklog()).ToArray();
        var open = Enumerable.Repeat(true, _connections).ToArray();
        var finished = new bool[_connections];
        var openCount = _connections;
        var idleTicks = (long)(idleTimeout.TotalSeconds * Stopwatch.Frequency);
        var i = 0L;
        var lastTick = long.MinValue;
        var lastData = long.MinValue;
        while (openCount > 0)
        {
            var answered = Answered;
            if (answered >= _schedule.Records) break;
            var backlogged = false;
            foreach (var backlog in backlogs) backlogged |= backlog.Count > 0;
            var nextDue = i < _schedule.Records ? _schedule.DueAt(i) : long.MaxValue;
            if (lastTick != long.MinValue && nextDue != long.MaxValue) nextDue = Math.Max(nextDue, lastTick + _gapTicks);
            var nextRead = lastTick != long.MinValue && (answered < i || backlogged) ? lastTick + _readTicks : long.MaxValue;
            _clock.WaitUntil(Math.Min(nextDue, nextRead));
            var now = _clock.Now;
            lastTick = now;
            if (lastData == long.MinValue) lastData = now;
            Ticks++;

            for (; i < _schedule.Records && _schedule.DueAt(i) <= now; i++)
            {
                var backlog = backlogs[ConnectionOf(i)];
                backlog.Appended(_lines.WriteLine(backlog.Room(_lines.MaxBytes), (int)(i % _lines.Keys), i));
                _writtenAt[i] = now;
                if (i >= _schedule.WarmUpRecords) LatencySummary.Record(SendLag, now - _schedule.DueAt(i));
            }

            for (var c = 0; c < _connections; c++)
            {
                if (!open[c]) continue;
                var backlog = backlogs[c];
                if (backlog.Count > 0)
                {
                    var sent = connections.TrySend(c, backlog.Pending);
                    if (sent > 0)
                    {
                        Writes++;
                        backlog.Consumed(sent);
                    }
                }

                if (i == _schedule.Records && backlog.Count == 0 && !finished[c])
                {
                    connections.FinishSending(c);
                    finished[c] = true;
                }

                for (var r = 0; r < MostReadsPerTick; r++)
                {
                    var receiver = Receivers[c];
                    var room = receiver.Free.Length;
                    var read = connections.TryReceive(c, receiver.Free, out var arrival);
                    ReadCalls++;
                    if (read == 0) break;
                    if (read < 0)
                    {
                        open[c] = false;
                        openCount--;
                        break;
                    }

                    Reads++;
                    lastData = now;
                    receiver.OnRead(read, arrival);
                    // A read that left room took everything there was: the next read would find nothing (a syscall
                    // for nothing, per connection and tick); what arrives meanwhile is read on the next tick, stamped
                    // with its own arrival time.
                    if (read < room) break;
                }
            }

            if (i > 0 && now - lastData > idleTicks) return;
        }
    }
}
