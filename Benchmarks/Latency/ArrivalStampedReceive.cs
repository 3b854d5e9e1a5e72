using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// A non-blocking read from a TCP socket that also says when its data arrived: on Linux the socket asks for the
/// kernel's receive timestamps (<c>SO_TIMESTAMPNS</c>) and each <c>recvmsg</c> returns the time the last of the
/// bytes it read reached the socket, converted to a <see cref="Stopwatch"/> timestamp; so a reader that reads late
/// still times what it reads from when it came. Bytes of several of the peer's writes taken by one read all carry
/// the last one's time. Elsewhere (or when the kernel gives no timestamp) the time of the read.
/// </summary>
internal static partial class ArrivalStampedReceive
{
    private const int SolSocket = 1;
    private const int SoTimestampNs = 35; // SO_TIMESTAMPNS_OLD = SCM_TIMESTAMPNS (64-bit Linux)
    private const int MsgDontWait = 0x40;
    private const int ClockRealtime = 0;
    private const int WouldBlock = 11; // EAGAIN
    private const int Interrupted = 4; // EINTR
    private const int ControlBytes = 64;

    /// <summary>Whether kernel receive timestamps are used (Linux, where <see cref="Stopwatch"/> counts nanoseconds of the monotonic clock).</summary>
    public static bool KernelTimestamps { get; } = OperatingSystem.IsLinux() && Stopwatch.Frequency == 1_000_000_000 && IntPtr.Size == 8;

    /// <summary>Makes <paramref name="socket"/> non-blocking and, where available, asks for receive timestamps.</summary>
    public static void Prepare(Socket socket)
    {
        socket.Blocking = false;
        if (!KernelTimestamps) return;
        socket.SetRawSocketOption(SolSocket, SoTimestampNs, BitConverter.GetBytes(1));
        _ = MonotonicMinusRealtime(); // binds clock_gettime now, not inside the first timed read

    }

    /// <summary>Bytes read into <paramref name="into"/> (0: nothing there now; -1: closed or reset) and when the last of them arrived.</summary>
    public static unsafe int Receive(Socket socket, Span<byte> into, out long arrival)
    {
        arrival = 0;
        if (into.IsEmpty) return 0;
        if (!KernelTimestamps)
        {
            var read = socket.Receive(into, SocketFlags.None, out var error);
            arrival = Stopwatch.GetTimestamp();
            return error switch
            {
                SocketError.Success => read == 0 ? -1 : read,
                SocketError.WouldBlock => 0,
                _ => -1,
            };
        }

        var control = stackalloc byte[ControlBytes];
        fixed (byte* data = into)
        {
            var vector = new IoVector { Base = data, Length = (nuint)into.Length };
            var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = ControlBytes };
            long read;
            int errno;
            do
            {
                read = RecvMsg((int)socket.Handle, ref message, MsgDontWait);
                errno = read < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
            while (read < 0 && errno == Interrupted);

            var now = Stopwatch.GetTimestamp();
            arrival = now;
            if (read < 0) return errno == WouldBlock ? 0 : -1;
            if (read == 0) return -1;
            if (KernelTime(control, (int)message.ControlLength) is { } realtime) arrival = Math.Min(now, realtime + MonotonicMinusRealtime());

            return (int)read;
        }
    }

    /// <summary>
    /// The offset from the real-time clock (the kernel's stamps) to <see cref="Stopwatch"/>'s monotonic clock, now:
    /// the real-time clock read between two monotonic reads, taken at their middle.
    /// </summary>
    private static long MonotonicMinusRealtime()
    {
        var time = new TimeSpec();
        var before = Stopwatch.GetTimestamp();
        _ = ClockGetTime(ClockRealtime, ref time);
        var after = Stopwatch.GetTimestamp();
        return before + (after - before) / 2 - (time.Seconds * 1_000_000_000 + time.Nanoseconds);
    }

    private static unsafe long? KernelTime(byte* control, int length)
    {
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the data, 8-byte aligned.
        var at = 0;
        while (at + 16 <= length)
        {
            var cmsgLength = (int)*(ulong*)(control + at);
            if (cmsgLength < 16) break;
            var level = *(int*)(control + at + 8);
            var type = *(int*)(control + at + 12);
            if (level == SolSocket && type == SoTimestampNs && cmsgLength >= 16 + 16)
            {
                var stamp = (TimeSpec*)(control + at + 16);
                return stamp->Seconds * 1_000_000_000 + stamp->Nanoseconds;
            }

            at += (cmsgLength + 7) & ~7;
        }

        return null;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public void* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial long RecvMsg(int socket, ref MessageHeader message, int flags);

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, ref TimeSpec time);
}
