using System.Collections.Concurrent;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Service;

/// <summary>
/// The pipeline's inbox: a bounded queue of submitted batches in arrival order, written by every channel and read
/// by one <see cref="HubInboxSource"/>. A writer that puts a batch into an empty inbox wakes the parked reader
/// itself, on its own thread (one message into the graph's mailbox), so a lone record reaches the pipeline without
/// a hop through the thread pool first. Writers wait while the inbox is full; they resume on the thread pool, never
/// on the reader's thread.
/// </summary>
internal sealed class HubInbox
{
    private readonly ConcurrentQueue<StepBatch> _queue = new();
    private readonly SemaphoreSlim _room;
    private readonly object _completionGate = new();
    private readonly CancellationTokenSource _completing = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action? _parkedReader;
    private int _overdraft;
    private volatile bool _completed;

    /// <param name="capacity">Most batches waiting for the pipeline.</param>
    public HubInbox(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        _room = new SemaphoreSlim(capacity);
    }

    public int Capacity { get; }

    /// <summary>Batches waiting for the pipeline now.</summary>
    public int Count => _queue.Count;

    /// <summary>Completes when <see cref="Complete"/> is called (batches may still be waiting to be read).</summary>
    public Task Completion => _completion.Task;

    /// <summary>True once <see cref="Complete"/> was called: no batch is taken any more.</summary>
    public bool IsCompleted => _completed;

    /// <summary>
    /// Puts <paramref name="batch"/> into the inbox once there is room. Throws <see cref="InvalidOperationException"/>
    /// when the inbox was completed (before or while waiting for room); then the batch was not taken.
    /// </summary>
    public async ValueTask WriteAsync(StepBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfCompleted();
        if (!_room.Wait(0)) await WaitForRoomAsyncCore(cancellationToken).ConfigureAwait(false);
        lock (_completionGate)
        {
            if (_completed)
            {
                _room.Release();
                ThrowIfCompleted();
            }

            _queue.Enqueue(batch);
        }

        Interlocked.Exchange(ref _parkedReader, null)?.Invoke();
    }

    /// <summary>
    /// Puts <paramref name="batch"/> into the inbox now, room or not (a writer that must not wait: a bucket entity, or a
    /// connection that waited for room first, <see cref="WaitForRoomAsync"/>); a batch beyond the capacity is counted as
    /// an overdraft, which the next batches read pay back before room is freed. False: the inbox is completed, the batch
    /// was not taken.
    /// </summary>
    public bool TryWrite(StepBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_completed) return false;
        var overdrawn = !_room.Wait(0);
        lock (_completionGate)
        {
            if (_completed)
            {
                if (!overdrawn) _room.Release();
                return false;
            }

            if (overdrawn) Interlocked.Increment(ref _overdraft);
            _queue.Enqueue(batch);
        }

        Interlocked.Exchange(ref _parkedReader, null)?.Invoke();
        return true;
    }

    /// <summary>
    /// Completes once the inbox has room (at once when it has, or when it is completed), taking none: a connection waits
    /// here before it writes with <see cref="TryWrite"/>, so that what waits in the inbox stays about its capacity.
    /// </summary>
    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken) =>
        _room.CurrentCount > 0 || _completed ? ValueTask.CompletedTask : WaitForRoomThenGiveBackAsync(cancellationToken);

    private async ValueTask WaitForRoomThenGiveBackAsync(CancellationToken cancellationToken)
    {
        try
        {
            await WaitForRoomAsyncCore(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Completed while waiting: the write that follows is refused.
            return;
        }

        _room.Release();
    }

    /// <summary>
    /// Takes no more batches; those already taken are still read. Writers waiting for room are refused, a parked
    /// reader is woken.
    /// </summary>
    public void Complete()
    {
        lock (_completionGate)
        {
            if (_completed) return;
            _completed = true;
        }

        _completing.Cancel();
        _completion.TrySetResult();
        Interlocked.Exchange(ref _parkedReader, null)?.Invoke();
    }

    /// <summary>The reader takes the oldest batch, if any, and frees its room.</summary>
    public bool TryTake(out StepBatch batch)
    {
        if (!_queue.TryDequeue(out batch!)) return false;
        // A batch written beyond the capacity (TryWrite) is paid back first.
        while (true)
        {
            var overdraft = Volatile.Read(ref _overdraft);
            if (overdraft == 0)
            {
                _room.Release();
                return true;
            }

            if (Interlocked.CompareExchange(ref _overdraft, overdraft - 1, overdraft) == overdraft) return true;
        }
    }

    /// <summary>The reader waits for the next writer to wake it.</summary>
    public bool ReaderParked => Volatile.Read(ref _parkedReader) is not null;

    /// <summary>Completed and nothing left to read.</summary>
    public bool IsDrained => _completed && _queue.IsEmpty;

    /// <summary>
    /// The reader found the inbox empty: <paramref name="wake"/> is called once by the next writer (or by
    /// <see cref="Complete"/>). Returns false when a batch or the completion arrived meanwhile and the reader should
    /// look again now (then <paramref name="wake"/> is not called).
    /// </summary>
    public bool Park(Action wake)
    {
        ArgumentNullException.ThrowIfNull(wake);
        Interlocked.Exchange(ref _parkedReader, wake);
        if (_queue.IsEmpty && !_completed) return true;
        // Something arrived between the look and the parking: unpark, unless a writer already took the wake-up.
        return Interlocked.CompareExchange(ref _parkedReader, null, wake) != wake;
    }

    /// <summary>The reader stopped: <paramref name="wake"/>, if still parked, is not called any more.</summary>
    public void Unpark(Action wake) => Interlocked.CompareExchange(ref _parkedReader, null, wake);

    private async Task WaitForRoomAsyncCore(CancellationToken cancellationToken)
    {
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _completing.Token);
        try
        {
            await _room.WaitAsync(waiting.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            ThrowIfCompleted();
            throw;
        }
    }

    private void ThrowIfCompleted()
    {
        if (_completed) throw new InvalidOperationException("the pipeline's inbox is completed: it takes no more input");
    }
}
