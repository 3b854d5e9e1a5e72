using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HdrHistogram;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop load generator over NDJSON/TCP: several connections, each with a sender thread that writes its
/// records when they are due (every record already due goes out in the same write) and a receiver thread that
/// reads the outputs and records, per output, the time from its record's due time to its arrival (found by the
/// <c>seq</c> it carries back). Key <c>k</c> always travels on connection <c>k mod connections</c>, so per-key order
/// holds. Also measures the peak: every connection sends as fast as the server reads.
/// </summary>
internal static class OpenLoopTcpLoad
{
    /// <param name="Latency">Due time to output, over the measured records.</param>
    /// <param name="SendLag">How late the senders wrote records (due time to the write), over the measured records.</param>
    public sealed record Result(LatencySummary Latency, LatencySummary SendLag, long Expected, long Received, long Errors);

    private static readonly TimeSpan ReceiveTimeout = TimeSpan.FromSeconds(30);

    public static Result Run(IPEndPoint endpoint, RecordLines lines, int connections, OpenLoopSchedule schedule) =>
        Run([endpoint], lines, connections, schedule);

    /// <summary>As <see cref="Run(IPEndPoint, RecordLines, int, OpenLoopSchedule)"/>, connection <c>c</c> to <c>endpoints[c mod count]</c> (several servers).</summary>
    public static Result Run(IReadOnlyList<IPEndPoint> endpoints, RecordLines lines, int connections, OpenLoopSchedule schedule)
    {
        CheckConnections(lines, connections);
        var links = Enumerable.Range(0, connections).Select(c => new Link(Connect(endpoints[c % endpoints.Count]), c, connections, lines, schedule)).ToList();
        foreach (var link in links) link.Start();
        foreach (var link in links) link.Join();
        var latency = LatencySummary.NewHistogram();
        var lag = LatencySummary.NewHistogram();
        foreach (var link in links)
        {
            latency.Add(link.Latency);
            lag.Add(link.SendLag);
            link.Socket.Dispose();
        }

        return new Result(LatencySummary.From(latency), LatencySummary.From(lag), schedule.Records, links.Sum(l => l.Received), links.Sum(l => l.Errors));
    }

    /// <summary>
    /// Outputs per second while every connection sends as fast as the server takes records, and the cores the
    /// generator, <paramref name="serve"/> and the machine used meanwhile.
    /// </summary>
    public static (double OutputsPerSecond, CpuUse Cpu) Peak(IPEndPoint endpoint, RecordLines lines, int connections, TimeSpan warmUp, TimeSpan measured,
        Process? serve) =>
        Peak([endpoint], lines, connections, warmUp, measured, serve);

    /// <summary>
    /// As <see cref="Peak(IPEndPoint, RecordLines, int, TimeSpan, TimeSpan, Process?)"/>, connection <c>c</c> to
    /// <c>endpoints[c mod count]</c> (several servers; <paramref name="serve"/>'s cores are one of them).
    /// </summary>
    public static (double OutputsPerSecond, CpuUse Cpu) Peak(IReadOnlyList<IPEndPoint> endpoints, RecordLines lines, int connections, TimeSpan warmUp,
        TimeSpan measured, Process? serve)
    {
        CheckConnections(lines, connections);
        long outputs = 0;
        var stop = false;
        var sockets = Enumerable.Range(0, connections).Select(c => Connect(endpoints[c % endpoints.Count])).ToList();
        var threads = new List<Thread>();
        for (var c = 0; c < connections; c++)
        {
            var socket = sockets[c];
            var first = c;
            threads.Add(Started(() =>
            {
                var buffer = new byte[256 * lines.MaxBytes];
                long i = first;
                while (!Volatile.Read(ref stop))
                {
                    var n = 0;
                    for (var r = 0; r < 256; r++, i += connections) n += lines.WriteLine(buffer.AsSpan(n), (int)(i % lines.Keys), i);
                    SendAll(socket, buffer, n);
                }

                socket.Shutdown(SocketShutdown.Send);
            }));
            threads.Add(Started(() =>
            {
                var buffer = new byte[1 << 18];
                while (true)
                {
                    int read;
                    try
                    {
                        read = socket.Receive(buffer);
                    }
                    catch (SocketException)
                    {
                        return;
                    }

                    if (read == 0) return;
                    Interlocked.Add(ref outputs, buffer.AsSpan(0, read).Count((byte)'\n'));
                }
            }));
        }

        Thread.Sleep(warmUp);
        var (c0, t0, cpu0) = (Interlocked.Read(ref outputs), Stopwatch.GetTimestamp(), CpuSample.Take(serve));
        Thread.Sleep(measured);
        var (c1, t1, cpu1) = (Interlocked.Read(ref outputs), Stopwatch.GetTimestamp(), CpuSample.Take(serve));
        Volatile.Write(ref stop, true);
        foreach (var thread in threads) thread.Join(ReceiveTimeout);
        foreach (var socket in sockets) socket.Dispose();
        return ((c1 - c0) / Stopwatch.GetElapsedTime(t0, t1).TotalSeconds, cpu1.Since(cpu0));
    }

    private static void CheckConnections(RecordLines lines, int connections)
    {
        if (connections < 1 || (lines.Keys % connections != 0))
            throw new ArgumentException($"{lines.Keys} keys cannot be spread evenly over {connections} connections");
    }

    private static Socket Connect(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = (int)ReceiveTimeout.TotalMilliseconds };
        socket.Connect(endpoint);
        return socket;
    }

    private static Thread Started(Action body)
    {
        var thread = new Thread(() => body()) { IsBackground = true };
        thread.Start();
        return thread;
    }

    private static void SendAll(Socket socket, byte[] buffer, int count)
    {
        var sent = 0;
        while (sent < count) sent += socket.Send(buffer, sent, count - sent, SocketFlags.None);
    }

    /// <summary>One connection's sender and receiver.</summary>
    private sealed class Link(Socket socket, int index, int connections, RecordLines lines, OpenLoopSchedule schedule)
    {
        private Thread? _sender, _receiver;

        public Socket Socket => socket;
        public LongHistogram Latency { get; } = LatencySummary.NewHistogram();
        public LongHistogram SendLag { get; } = LatencySummary.NewHistogram();
        public long Received { get; private set; }
        public long Errors { get; private set; }

        private long Expected => (schedule.Records - index + connections - 1) / connections;

        public void Start()
        {
            _sender = Started(Send);
            _receiver = Started(Receive);
        }

        public void Join()
        {
            _sender!.Join();
            _receiver!.Join();
        }

        private void Send()
        {
            var buffer = new byte[1 << 16];
            var i = (long)index;
            while (i < schedule.Records)
            {
                OpenLoopSchedule.WaitUntil(schedule.DueAt(i));
                var now = Stopwatch.GetTimestamp();
                var n = 0;
                while (i < schedule.Records && schedule.DueAt(i) <= now && n + lines.MaxBytes <= buffer.Length)
                {
                    if (i >= schedule.WarmUpRecords) LatencySummary.Record(SendLag, now - schedule.DueAt(i));
                    n += lines.WriteLine(buffer.AsSpan(n), (int)(i % lines.Keys), i);
                    i += connections;
                }

                SendAll(socket, buffer, n);
            }

            socket.Shutdown(SocketShutdown.Send);
        }

        private void Receive()
        {
            var buffer = new byte[1 << 18];
            var have = 0;
            var expected = Expected;
            while (Received + Errors < expected)
            {
                int read;
                try
                {
                    read = socket.Receive(buffer, have, buffer.Length - have, SocketFlags.None);
                }
                catch (SocketException)
                {
                    return; // timed out or reset: what is missing counts as lost
                }

                if (read == 0) return;
                var now = Stopwatch.GetTimestamp();
                have += read;
                var start = 0;
                while (true)
                {
                    var newline = buffer.AsSpan(start, have - start).IndexOf((byte)'\n');
                    if (newline < 0) break;
                    var line = buffer.AsSpan(start, newline);
                    var seq = line.IndexOf("\"error\""u8) >= 0 ? -1 : RecordLines.SeqOf(line);
                    if (seq < 0) Errors++;
                    else
                    {
                        Received++;
                        if (seq >= schedule.WarmUpRecords) LatencySummary.Record(Latency, now - schedule.DueAt(seq));
                    }

                    start += newline + 1;
                }

                buffer.AsSpan(start, have - start).CopyTo(buffer);
                have -= start;
            }
        }
    }
}
