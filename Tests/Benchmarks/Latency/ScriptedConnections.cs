using System.Text;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>
/// Connections for the open-loop generator that answer every record line after a scripted delay: the answer
/// (<c>{"seq":N,"y":[1]}</c>) can be read once the clock has passed its arrival time, and is stamped with that time;
/// a read takes as many of the arrived bytes as fit.
/// A write takes at most <see cref="TakePerWrite"/> bytes; every write and every half-close is kept.
/// </summary>
internal sealed class ScriptedConnections(IOpenLoopClock clock, int connections, long answerDelay, bool answering = true) : IOpenLoopConnections
{
    private readonly List<(long Arrival, byte[] Line)>[] _answers = Enumerable.Range(0, connections).Select(_ => new List<(long, byte[])>()).ToArray();
    private readonly List<(long Arrival, byte[] Line, int Offset)>[] _readable = Enumerable.Range(0, connections).Select(_ => new List<(long, byte[], int)>()).ToArray();
    private readonly StringBuilder[] _partial = Enumerable.Range(0, connections).Select(_ => new StringBuilder()).ToArray();

    public int TakePerWrite { get; set; } = int.MaxValue;

    /// <summary>(connection, text taken) per write, in order.</summary>
    public List<(int Connection, string Text)> Writes { get; } = [];

    public List<int> Finished { get; } = [];

    /// <summary>(connection, the clock's time) per read asked for, whether it returned bytes or not.</summary>
    public List<(int Connection, long Time)> ReceiveCalls { get; } = [];

    /// <summary>The clock's time at each read that returned bytes.</summary>
    public List<long> ReadTimes { get; } = [];

    public int TrySend(int connection, ReadOnlySpan<byte> bytes)
    {
        var taken = bytes[..Math.Min(bytes.Length, TakePerWrite)];
        if (taken.IsEmpty) return 0;
        var text = Encoding.UTF8.GetString(taken);
        Writes.Add((connection, text));
        _partial[connection].Append(text);
        var whole = _partial[connection].ToString();
        var end = whole.LastIndexOf('\n');
        if (end >= 0)
        {
            foreach (var line in whole[..end].Split('\n'))
            {
                if (answering) _answers[connection].Add((clock.Now + answerDelay, Encoding.UTF8.GetBytes($"{{\"seq\":{RecordLines.SeqOf(Encoding.UTF8.GetBytes(line))},\"y\":[1]}}\n")));
            }

            _partial[connection].Clear().Append(whole[(end + 1)..]);
        }

        return taken.Length;
    }

    public int TryReceive(int connection, Span<byte> into, out long arrival)
    {
        arrival = 0;
        ReceiveCalls.Add((connection, clock.Now));
        var answers = _answers[connection];
        var ready = answers.TakeWhile(a => a.Arrival <= clock.Now).ToList();
        answers.RemoveRange(0, ready.Count);
        foreach (var (at, line) in ready) _readable[connection].Add((at, line, 0));
        var readable = _readable[connection];
        var n = 0;
        while (readable.Count > 0 && n < into.Length)
        {
            // Answers that arrived are read as a stream: as many bytes as fit, a line may be split between two reads.
            var (at, line, offset) = readable[0];
            var take = Math.Min(line.Length - offset, into.Length - n);
            line.AsSpan(offset, take).CopyTo(into[n..]);
            n += take;
            arrival = at;
            if (offset + take == line.Length) readable.RemoveAt(0);
            else readable[0] = (at, line, offset + take);
        }

        if (n == 0) return 0;
        ReadTimes.Add(clock.Now);
        return n;
    }

    public void FinishSending(int connection) => Finished.Add(connection);
}
