using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop load generator over NDJSON/TCP: several connections, one sender thread writing every record when
/// it is due (<see cref="OpenLoopSender"/>: the records due at a wake-up go out in one write per connection) and one
/// receiver thread reading all connections (<see cref="OpenLoopReceiver"/>: per output, the time from its record's
/// due time to its arrival, found by the <c>seq</c> it carries back). Key <c>k</c> always travels on connection
/// <c>k mod connections</c>, so per-key order holds. Also measures the peak: every connection sends as fast as the
/// server reads.
/// </summary>
internal static class OpenLoopTcpLoad
{
    /// <param name="Latency">Due time to output, over the measured records.</param>
    /// <param name="SendLag">How late records went out (due time to the wake-up or publish that sent them), over the measured records.</param>
    public sealed record Result(LatencySummary Latency, LatencySummary SendLag, long Expected, long Received, long Errors);

    private static readonly TimeSpan ReceiveTimeout = TimeSpan.FromSeconds(30);

    public static Result Run(IPEndPoint endpoint, RecordLines lines, int connections, OpenLoopSchedule schedule) =>
        Run([endpoint], lines, connections, schedule, OpenLoopSender.DefaultMinimumGap);

    /// <param name="minimumGap">The sender's least time between two wake-ups (see <see cref="OpenLoopSender"/>).</param>
    public static Result Run(IPEndPoint endpoint, RecordLines lines, int connections, OpenLoopSchedule schedule, TimeSpan minimumGap) =>
        Run([endpoint], lines, connections, schedule, minimumGap);

    /// <summary>As <see cref="Run(IPEndPoint, RecordLines, int, OpenLoopSchedule)"/>, connection <c>c</c> to <c>endpoints[c mod count]</c> (several servers).</summary>
    public static Result Run(IReadOnlyList<IPEndPoint> endpoints, RecordLines lines, int connections, OpenLoopSchedule schedule) =>
        Run(endpoints, lines, connections, schedule, OpenLoopSender.DefaultMinimumGap);

    /// <summary>As <see cref="Run(IPEndPoint, RecordLines, int, OpenLoopSchedule, TimeSpan)"/>, connection <c>c</c> to <c>endpoints[c mod count]</c>.</summary>
    public static Result Run(IReadOnlyList<IPEndPoint> endpoints, RecordLines lines, int connections, OpenLoopSchedule schedule, TimeSpan minimumGap)
    {
        var sender = new OpenLoopSender(schedule, lines, connections, MonotonicClock.Instance, minimumGap);
        var sockets = Enumerable.Range(0, connections).Select(c => Connect(endpoints[c % endpoints.Count])).ToList();
        var receivers = sockets.Select(_ => new OpenLoopReceiver(schedule)).ToList();
        try
        {
            var sending = Started(() =>
            {
                sender.Run((c, bytes) => SendAll(sockets[c], bytes));
                foreach (var socket in sockets) socket.Shutdown(SocketShutdown.Send);
            });
            Receive(sockets, receivers, schedule.Records);
            sending.Join();
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }

        var latency = LatencySummary.NewHistogram();
        foreach (var receiver in receivers) latency.Add(receiver.Latency);
        return new Result(LatencySummary.From(latency), LatencySummary.From(sender.SendLag), schedule.Records, receivers.Sum(r => r.Received),
            receivers.Sum(r => r.Errors));
    }

    /// <summary>
    /// One thread reads every connection: it waits in one <c>poll</c> for any of them to be readable, reads each that
    /// is, stamping the read's time, until <paramref name="expected"/> lines came back, every connection was closed,
    /// or nothing arrived for <see cref="ReceiveTimeout"/> (what is missing counts as lost).
    /// </summary>
    private static void Receive(List<Socket> sockets, List<OpenLoopReceiver> receivers, long expected)
    {
        var open = new List<Socket>(sockets);
        var ready = new List<Socket>(sockets.Count);
        var lastData = Stopwatch.GetTimestamp();
        while (open.Count > 0 && Answered(receivers) < expected)
        {
            ready.Clear();
            ready.AddRange(open);
            Socket.Select(ready, null, null, 1_000_000);
            if (ready.Count == 0)
            {
                if (Stopwatch.GetElapsedTime(lastData) > ReceiveTimeout) return;
                continue;
            }

            foreach (var socket in ready)
            {
                var receiver = receivers[sockets.IndexOf(socket)];
                int read;
                try
                {
                    read = socket.Receive(receiver.Free);
                }
                catch (SocketException)
                {
                    read = 0; // reset: what is missing counts as lost
                }

                if (read == 0)
                {
                    open.Remove(socket);
                    continue;
                }

                lastData = Stopwatch.GetTimestamp();
                receiver.OnRead(read, lastData);
            }
        }
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
                    SendAll(socket, buffer.AsSpan(0, n));
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

    private static long Answered(List<OpenLoopReceiver> receivers)
    {
        var answered = 0L;
        foreach (var receiver in receivers) answered += receiver.Received + receiver.Errors;
        return answered;
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0) bytes = bytes[socket.Send(bytes)..];
    }
}
