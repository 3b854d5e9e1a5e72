namespace LstmStream.Benchmarks;

/// <summary>
/// Counts the steps a free-running stream has emitted (added from the stream's sink thread) and lets a
/// measurement wait until a given number more have come out.
/// </summary>
internal sealed class EmittedSteps : IDisposable
{
    private readonly ManualResetEventSlim _reached = new(false);
    private long _produced;
    private long _target = long.MaxValue;

    /// <summary>Steps emitted so far.</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Counts <paramref name="steps"/> more; wakes the waiter once its target is reached.</summary>
    public void Add(long steps)
    {
        var total = Interlocked.Add(ref _produced, steps);
        if (total < Volatile.Read(ref _target)) return;
        Volatile.Write(ref _target, long.MaxValue);
        _reached.Set();
    }

    /// <summary>Waits until <paramref name="expected"/> more steps have come out (rethrows the stream's failure) and returns that number.</summary>
    public long WaitFor(long expected, Task finished)
    {
        _reached.Reset();
        var target = Interlocked.Read(ref _produced) + expected;
        Volatile.Write(ref _target, target);
        while (!_reached.Wait(TimeSpan.FromSeconds(30)))
        {
            if (finished.IsCompleted) finished.GetAwaiter().GetResult();
            throw new TimeoutException($"the pipeline emitted {Produced} of {target} steps within 30 s");
        }

        if (finished.IsFaulted) finished.GetAwaiter().GetResult();
        return expected;
    }

    public void Dispose() => _reached.Dispose();
}
