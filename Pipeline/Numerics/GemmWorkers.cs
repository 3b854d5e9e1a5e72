namespace LstmStream.Pipeline.Numerics;

/// <summary>A piece of work split into parts that may run at once.</summary>
internal interface IParallelJob
{
    void RunPart(int part);
}

/// <summary>
/// A fixed set of dedicated background threads for splitting one multiply over cores without
/// allocating per call. Each thread owns an equal contiguous range of a job's parts and claims them from its
/// front; a thread whose range is used up takes the others' parts from their ends. So the same parts (the same
/// rows of a batch) go to the same thread, and its core's caches, job after job, while the caller never waits
/// for a worker that is slow to wake or has been preempted (it takes that worker's parts itself) — only for
/// parts already running. A job may have more parts than threads (smaller parts at the ends of the ranges
/// balance the threads' last claims). A worker polls a job counter for
/// 2 ms after each job (back-to-back layer steps and micro-batches find it awake; polling takes no lock, so a
/// worker preempted while polling never holds up the caller that starts the next job), then flags itself and
/// sleeps on its semaphore, which the next job releases. One job
/// at a time:
/// callers take <see cref="TryBegin"/> and fall back to one thread when it is busy, so concurrent
/// callers never oversubscribe the cores. The claim is not re-entrant: a part that multiplies again (on
/// the caller's thread or a worker's) finds the workers busy and runs on its own thread.
/// </summary>
internal sealed class GemmWorkers : IDisposable
{
    /// <summary>
    /// How long (2 ms) a worker stays awake after a part, polling for the next job, before it sleeps on its semaphore:
    /// longer than the gap between the layer steps of consecutive micro-batches (the stream's own work on the
    /// batch in between), so a busy pipeline never pays a wake-up, and short enough to cost little when idle.
    /// </summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 500;
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    /// <summary>Per worker: 1 while it is about to sleep or sleeping on its semaphore (then a new job releases it).</summary>
    private readonly int[] _sleeping;
    /// <summary>Counts jobs started: a polling worker watches it (no lock), so waking an awake worker costs nothing.</summary>
    private long _jobs;
    private int _claimed;
    private IParallelJob? _job;
    private int _parts;
    /// <summary>
    /// Per thread (the caller first, then the workers), the range of parts it owns in the job now running (see
    /// <see cref="Range"/>); every range is empty between jobs (a job ends only when all are), so a worker that wakes
    /// late claims nothing.
    /// </summary>
    private readonly long[] _ranges;
    private int _donePart;
    private volatile bool _stopping;
    private Exception? _failure;

    public GemmWorkers(int workerCount)
    {
        _threads = new Thread[workerCount];
        _start = new SemaphoreSlim[workerCount];
        _sleeping = new int[workerCount];
        _ranges = new long[workerCount + 1];
        for (var w = 0; w < workerCount; w++)
        {
            _start[w] = new SemaphoreSlim(0);
            var index = w;
            _threads[w] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"lstmstream-gemm-{w + 1}" };
            _threads[w].Start();
        }
    }

    /// <summary>Jobs started so far (each <see cref="RunAndEnd"/>).</summary>
    internal long JobsStarted => Volatile.Read(ref _jobs);

    /// <summary>Threads a job runs on: the workers plus the calling thread.</summary>
    public int Threads => _threads.Length + 1;

    /// <summary>Claims the workers; false when another call (or the job now running) is using them.</summary>
    public bool TryBegin()
    {
        if (Interlocked.CompareExchange(ref _claimed, 1, 0) != 0) return false;
        if (!_stopping) return true;
        Volatile.Write(ref _claimed, 0);
        return false;
    }

    /// <summary>Runs parts 0 … <paramref name="parts"/> − 1 of <paramref name="job"/>, then releases the workers.</summary>
    public void RunAndEnd(IParallelJob job, int parts)
    {
        try
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
            _job = job;
            _failure = null;
            _parts = parts;
            Volatile.Write(ref _donePart, 0);
            // Opening the ranges last publishes the job, its part count and the done counter first.
            var threads = _ranges.Length;
            for (var t = 0; t < threads; t++) Volatile.Write(ref _ranges[t], Range((int)((long)parts * t / threads), (int)((long)parts * (t + 1) / threads)));
            WakeWorkers();
            try
            {
                RunClaimedParts(0);
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
            _job = null;
            Volatile.Write(ref _claimed, 0);
        }
    }

    /// <summary>
    /// Tells the workers a job started: polling ones see the job count change; one that has gone to sleep (flagged
    /// itself) is released. The count's increment and the flag's exchange are full fences, and a worker flags itself
    /// before it reads the count a last time, so either it sees the new job or this sees its flag.
    /// </summary>
    private void WakeWorkers()
    {
        Interlocked.Increment(ref _jobs);
        for (var w = 0; w < _start.Length; w++)
        {
            if (Volatile.Read(ref _sleeping[w]) != 0 && Interlocked.Exchange(ref _sleeping[w], 0) != 0) _start[w].Release();
        }
    }

    /// <summary>A range of parts, front (next to claim from the start) in the low half, end (exclusive) in the high half.</summary>
    private static long Range(int front, int end) => ((long)end << 32) | (uint)front;

    /// <summary>
    /// Claims a part of range <paramref name="t"/>: its owner from the front, others from the end; -1 when it is empty.
    /// </summary>
    private int Claim(int t, bool owner)
    {
        while (true)
        {
            var range = Volatile.Read(ref _ranges[t]);
            int front = (int)range, end = (int)(range >> 32);
            if (front >= end) return -1;
            var claimed = owner ? Range(front + 1, end) : Range(front, end - 1);
            if (Interlocked.CompareExchange(ref _ranges[t], claimed, range) == range) return owner ? front : end - 1;
        }
    }

    /// <summary>
    /// Runs parts until none is left: first this thread's own range from its front (so a batch's rows go to the same
    /// thread, and so the same core, step after step and layer after layer), then the others' from their ends.
    /// </summary>
    private void RunClaimedParts(int own)
    {
        var threads = _ranges.Length;
        for (var i = 0; i < threads; i++)
        {
            var t = (own + i) % threads;
            int part;
            while ((part = Claim(t, owner: i == 0)) >= 0) Run(part);
        }
    }

    private void Run(int part)
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

    private void Loop(int index)
    {
        var start = _start[index];
        // Jobs are counted from 0: one started before this thread got here is still new to it.
        var seen = 0L;
        while (true)
        {
            var since = System.Diagnostics.Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _jobs) == seen && System.Diagnostics.Stopwatch.GetTimestamp() - since < SpinTicks) Thread.SpinWait(10);
            if (Volatile.Read(ref _jobs) == seen)
            {
                Interlocked.Exchange(ref _sleeping[index], 1);
                if (Volatile.Read(ref _jobs) == seen) start.Wait();
                else if (Interlocked.Exchange(ref _sleeping[index], 0) == 0) start.Wait(); // a starter took the flag: take its release
            }

            if (_stopping) return;
            seen = Volatile.Read(ref _jobs);
            RunClaimedParts(index + 1);
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        // Wait for the job now running (if any) to end, then keep the claim so no new one starts.
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _claimed, 1, 0) != 0) spin.SpinOnce();
        _stopping = true;
        Interlocked.Increment(ref _jobs);
        foreach (var s in _start) s.Release();

        foreach (var t in _threads) t.Join();
        foreach (var s in _start) s.Dispose();
    }
}
