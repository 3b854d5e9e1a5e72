using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// One materialized, free-running stream of a stream engine (<see cref="StreamEngine"/>, <see cref="TypedStreamEngine"/>)
/// whose outputs its sink counts: it runs on rounds generated inside the stream until disposed (the source then
/// ends); <see cref="Run"/> waits until the given number of further rounds has come out. Materialization and the
/// stream's start are not timed.
/// </summary>
internal sealed class RunningStream : IDisposable
{
    private readonly int _keys;
    private readonly SessionCounters _sessions;
    private readonly Task _finished;
    private readonly EmittedSteps _emitted = new();
    private readonly int _gen0AtStart = GC.CollectionCount(0);
    private bool _stop;

    /// <param name="keys">Steps per round.</param>
    /// <param name="start">Materializes the stream: its source stops when the given function turns true, its sink
    /// adds every output to the given counter; returns the pipeline's session counters and the stream's end.</param>
    public RunningStream(int keys, Func<Func<bool>, EmittedSteps, (SessionCounters Sessions, Task Finished)> start)
    {
        _keys = keys;
        (_sessions, _finished) = start(() => Volatile.Read(ref _stop), _emitted);
    }

    /// <summary>Steps output so far.</summary>
    public long Produced => _emitted.Produced;

    /// <summary>Average rows per micro-batch so far (keys when every batch is one whole round).</summary>
    public double RowsPerBatch => (double)_emitted.Produced / Math.Max(1, _sessions.Batches);

    /// <summary>Gen-0 garbage collections (of the whole process) per million steps output so far: what the stream's allocations cost in pauses.</summary>
    public double Gen0CollectionsPerMillionSteps => (GC.CollectionCount(0) - _gen0AtStart) * 1e6 / Math.Max(1, _emitted.Produced);

    /// <summary>Waits for <paramref name="rounds"/> more rounds of outputs and returns the steps they made.</summary>
    public long Run(int rounds) => _emitted.WaitFor((long)rounds * _keys, _finished);

    public void Dispose()
    {
        Volatile.Write(ref _stop, true);
        _finished.GetAwaiter().GetResult();
        _emitted.Dispose();
    }
}
