namespace LstmStream.Hosting.Channels;

/// <summary>
/// A channel's output batches handed over for sending (<see cref="HandedOver"/>, on the egress thread) and those settled:
/// sent, or dropped for good and logged (<see cref="Settled"/>, by the sending loop); <see cref="WaitAsync"/> completes once
/// every batch handed over before the call is settled (what <see cref="IChannelOutput.OutputsSentAsync"/> needs).
/// Thread-safe; a waiter costs one small object until its batches are settled.
/// </summary>
public sealed class SentOutputs
{
    private readonly object _gate = new();
    private readonly Queue<(long Target, TaskCompletionSource Done)> _waiters = new();
    private long _handedOver, _settled;
    private bool _closed;

    /// <summary>Batches handed over so far.</summary>
    public long HandedOverCount => Interlocked.Read(ref _handedOver);

    /// <summary>Batches settled so far.</summary>
    public long SettledCount
    {
        get
        {
            lock (_gate) return _settled;
        }
    }

    /// <summary>One more batch is handed over for sending (call before the sending loop can see it).</summary>
    public void HandedOver() => Interlocked.Increment(ref _handedOver);

    /// <summary><paramref name="batches"/> batches, the oldest not settled yet, are sent or dropped for good.</summary>
    public void Settled(int batches)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batches);
        lock (_gate)
        {
            _settled += batches;
            // Targets only grow in arrival order, so the waiters done are at the front.
            while (_waiters.TryPeek(out var waiter) && waiter.Target <= _settled) _waiters.Dequeue().Done.TrySetResult();
        }
    }

    /// <summary>Nothing more will be sent (the channel stopped): every waiter, present and future, completes.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            while (_waiters.TryDequeue(out var waiter)) waiter.Done.TrySetResult();
        }
    }

    /// <summary>Completes once every batch handed over before this call is settled (or the channel stopped).</summary>
    public Task WaitAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var target = Interlocked.Read(ref _handedOver);
            if (_closed || _settled >= target) return Task.CompletedTask;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue((target, done));
            return done.Task.WaitAsync(cancellationToken);
        }
    }
}
