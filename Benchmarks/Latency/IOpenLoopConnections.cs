namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop generator's connections, used from its one thread without ever blocking: a send takes what the
/// socket can take now, a receive returns what has arrived (with the time it arrived). <see cref="LoopbackTcpConnections"/>
/// is the real one; tests script one, so the generator's schedule and bookkeeping are tested without timing anything.
/// </summary>
internal interface IOpenLoopConnections
{
    /// <summary>Writes what connection <paramref name="connection"/> takes now of <paramref name="bytes"/>; returns how many bytes (0 when it is full).</summary>
    int TrySend(int connection, ReadOnlySpan<byte> bytes);

    /// <summary>
    /// Reads what has arrived on connection <paramref name="connection"/>: the number of bytes (0 when nothing is
    /// there now, -1 when the peer closed or reset it) and, in <paramref name="arrival"/>, when the last of them
    /// arrived (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).
    /// </summary>
    int TryReceive(int connection, Span<byte> into, out long arrival);

    /// <summary>Nothing more will be sent on connection <paramref name="connection"/> (half-close).</summary>
    void FinishSending(int connection);
}
