using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop load generator over NDJSON/TCP: several connections, served by one thread that sends and reads on
/// ticks (<see cref="OpenLoopGenerator"/>: the records due at a tick go out in one write per connection, every
/// output is timed from its record's due time to its arrival at the socket). Key <c>k</c> always travels on
/// connection <c>k mod connections</c>, so per-key order holds. Also measures the peak: every connection sends as
/// fast as the server reads.
/// </summary>
internal static class OpenLoopTcpLoad
{
    /// <param name="Latency">Due time to output, over the measured records.</param>
    /// <param name="SendLag">How late records went out (due time to the tick or publish that sent them), over the measured records.</param>
    /// <param name="GeneratorThreadCpu">Processor time of the generator's own thread over the whole run (warm-up included), where known.</param>
    /// <param name="FromWrite">The generator's write to output, over the measured records (the latency without the send lag); null where not measured.</param>
    public sealed record Result(LatencySummary Latency, LatencySummary SendLag, long Expected, long Received, long Errors, TimeSpan? GeneratorThreadCpu = null,
        LatencySummary? FromWrite = null);

    private static readonly TimeSpan ReceiveTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The generator's method in one sentence, for the report.</summary>
    public static string Method(int connections, TimeSpan gap) =>
        $"one thread for all {connections} connections, waking at most every {gap.TotalMicroseconds:F0} µs (--send-gap) while records are due " +
        "or answers outstanding, writing every record due by then in one non-blocking write per connection and reading each connection once (more only when a read filled its buffer); " +
        "latency counts from each record's due time to the time its output reached the socket " +
        (ArrivalStampedReceive.KernelTimestamps ? "(the kernel's receive timestamp, so reading on ticks does not delay it)" : "(the time it was read)") +
        ", so the send gap is part of it (the send lag column)";

    public static Result Run(IPEndPoint endpoint, RecordLines lines, int connections, OpenLoopSchedule schedule) =>
        Run([endpoint], lines, connections, schedule, OpenLoopGenerator.DefaultGap);

    /// <param name="gap">The generator's least time between two ticks (see <see cref="OpenLoopGenerator"/>).</param>
    public static Result Run(IPEndPoint endpoint, RecordLines lines, int connections, OpenLoopSchedule schedule, TimeSpan gap) =>
        Run([endpoint], lines, connections, schedule, gap);

    /// <summary>As <see cref="Run(IPEndPoint, RecordLines, int, OpenLoopSchedule)"/>, connection <c>c</c> to <c>endpoints[c mod count]</c> (several servers).</summary>
    public static Result Run(IReadOnlyList<IPEndPoint> endpoints, RecordLines lines, int connections, OpenLoopSchedule schedule) =>
        Run(endpoints, lines, connections, schedule, OpenLoopGenerator.DefaultGap);

    /// <summary>As <see cref="Run(IPEndPoint, RecordLines, int, OpenLoopSchedule, TimeSpan)"/>, connection <c>c</c> to <c>endpoints[c mod count]</c>.</summary>
    /// <param name="clock">The generator's clock; null: <see cref="MonotonicClock"/> (it sleeps between ticks).</param>
    public static Result Run(IReadOnlyList<IPEndPoint> endpoints, RecordLines lines, int connections, OpenLoopSchedule schedule, TimeSpan gap,
        IOpenLoopClock? clock = null)
    {
        var generator = new OpenLoopGenerator(schedule, lines, connections, clock ?? MonotonicClock.Instance, gap);
        using (var sockets = new LoopbackTcpConnections(endpoints, connections))
        {
            generator.Run(sockets, ReceiveTimeout);
        }

        var latency = LatencySummary.NewHistogram();
        var fromWrite = LatencySummary.NewHistogram();
        foreach (var receiver in generator.Receivers)
        {
            latency.Add(receiver.Latency);
            fromWrite.Add(receiver.FromWrite);
        }

        return new Result(LatencySummary.From(latency), LatencySummary.From(generator.SendLag), schedule.Records, generator.Receivers.Sum(r => r.Received),
            generator.Receivers.Sum(r => r.Errors), generator.ThreadCpu, fromWrite.TotalCount > 0 ? LatencySummary.From(fromWrite) : null);
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

    private static void SendAll(Socket socket, ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0) bytes = bytes[socket.Send(bytes)..];
    }
}
