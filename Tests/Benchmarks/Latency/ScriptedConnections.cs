using System.Text;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>
/// Connections for the open-loop generator that answer every record line after a scripted delay: the answer
/// (<c>{"seq":N,"y":[1]}</c>) can be read once the clock has passed its arrival time, and is stamped with that time.
/// A write takes at most <see cref="TakePerWrite"/> bytes; every write and every half-close is kept.
/// </summary>
internal sealed class ScriptedConnections(IOpenLoopClock clock, int connections, long answerDelay, bool answering = true) : IOpenLoopConnections
{
    private readonly List<(long Arrival, byte[] Line)>[] _answers = Enumerable.Range(0, connections).Select(_ => new List<(long, byte[])>()).ToArray();
    private readonly StringBuilder[] _partial = Enumerable.Range(0, connections).Select(_ => new StringBuilder()).ToArray();

    public int TakePerWrite { get; set; } = int.MaxValue;

    /// <summary>(connection, text taken) per write, in order.</summary>
    public List<(int Connection, string Text)> Writes { get; } = [];

    public List<int> Finished { get; } = [];

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
        var ready = _answers[connection].TakeWhile(a => a.Arrival <= clock.Now).ToList();
        if (ready.Count == 0) return 0;
        _answers[connection].RemoveRange(0, ready.Count);
        var n = 0;
        foreach (var (_, line) in ready)
        {
            line.CopyTo(into[n..]);
            n += line.Length;
        }

        arrival = ready[^1].Arrival;
        ReadTimes.Add(clock.Now);
        return n;
    }

    public void FinishSending(int connection) => Finished.Add(connection);
}
