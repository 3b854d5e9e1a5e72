namespace LstmStream.Pipeline.Numerics;

/// <summary>A piece of work split into parts that may run at once.</summary>
internal interface IParallelJob
{
    void RunPart(int part);
}

/// <summary>
/// A fixed set of dedicated background threads for splitting one multiply over cores without
/// allocating per call. Parts are claimed, not assigned: the caller and every woken worker take the
/// next unclaimed part until none is left, so the caller never waits for a worker that is slow to wake
/// (it does that worker's part itself) — only for parts already running. A worker spins briefly after
/// each job (back-to-back layer steps find it awake), then sleeps on its semaphore. One job at a time:
/// callers take <see cref="TryBegin"/> and fall back to one thread when it is busy, so concurrent
/// callers never oversubscribe the cores.
/// </summary>
internal sealed class GemmWorkers : IDisposable
{
    private const int SpinIterations = 500;
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly object _gate = new();
    private IParallelJob? _job;
    private int _parts;
    private int _nextPart;
    private int _donePart;
    private volatile bool _stopping;
    private Exception? _failure;

    public GemmWorkers(int workerCount)
    {
        _threads = new Thread[workerCount];
        _start = new SemaphoreSlim[workerCount];
        for (var w = 0; w < workerCount; w++)
        {
            _start[w] = new SemaphoreSlim(0);
            var index = w;
            _threads[w] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"lstmstream-gemm-{w + 1}" };
            _threads[w].Start();
        }
    }

    /// <summary>Parts a job is split into: one per worker plus one for the calling thread.</summary>
    public int Parts => _threads.Length + 1;

    /// <summary>Claims the workers; false when another caller is using them.</summary>
    public bool TryBegin() => !_stopping && Monitor.TryEnter(_gate);

    /// <summary>Runs every part of <paramref name="job"/>, then releases the workers.</summary>
    public void RunAndEnd(IParallelJob job)
    {
        try
        {
            _job = job;
            _failure = null;
            _parts = Parts;
            Volatile.Write(ref _donePart, 0);
            Volatile.Write(ref _nextPart, 0);
            foreach (var s in _start) s.Release();
            try
            {
                RunClaimedParts();
            }
            finally
            {
                // Never hand the workers to the next caller while they still run a part of this job.
                var spin = new SpinWait();
                while (Volatile.Read(ref _donePart) < _parts) spin.SpinOnce(sleep1Threshold: -1);
            }

            if (_failure is { } failure) throw new InvalidOperationException("a matrix multiply worker failed", failure);
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private void RunClaimedParts()
    {
        int part;
        while ((part = Interlocked.Increment(ref _nextPart) - 1) < _parts)
        {
            try
            {
                _job!.RunPart(part);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            finally
            {
                Interlocked.Increment(ref _donePart);
            }
        }
    }

    private void Loop(int index)
    {
        var start = _start[index];
        while (true)
        {
            var woke = false;
            for (var i = 0; i < SpinIterations && !woke; i++)
            {
                woke = start.Wait(0);
                if (!woke) Thread.SpinWait(10);
            }

            if (!woke) start.Wait();
            if (_stopping) return;
            RunClaimedParts();
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        lock (_gate)
        {
            _stopping = true;
            foreach (var s in _start) s.Release();
        }

        foreach (var t in _threads) t.Join();
        foreach (var s in _start) s.Dispose();
    }
}
