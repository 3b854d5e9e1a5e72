namespace LstmStream.Hosting.Channels;

/// <summary>
/// A channel's in-flight credit: how many of its records (and error records) are between ingress and the
/// channel's own output. Acquiring waits (asynchronously, first come first served) until the records fit
/// under the limit; releasing wakes the waiters that now fit. Thread-safe.
/// </summary>
public sealed class InFlightCredit
{
    private readonly object _gate = new();
    private readonly Queue<Waiter> _waiters = new();
    private int _used;

    public InFlightCredit(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        Limit = limit;
    }

    public int Limit { get; }

    /// <summary>Units held now (may exceed <see cref="Limit"/> briefly through <see cref="Charge"/>).</summary>
    public int InUse
    {
        get { lock (_gate) return _used; }
    }

    /// <summary>
    /// Takes <paramref name="units"/> (at most <see cref="Limit"/>) once they fit. With zero units: waits until
    /// at least one unit is free, takes nothing (a reader asks this before reading more input).
    /// </summary>
    public ValueTask AcquireAsync(int units, CancellationToken cancellationToken)
    {
        if (units < 0 || units > Limit)
            throw new ArgumentOutOfRangeException(nameof(units), units, $"must be within 0..{Limit}");
        Waiter waiter;
        lock (_gate)
        {
            if (_waiters.Count == 0 && Fits(units))
            {
                _used += units;
                return ValueTask.CompletedTask;
            }

            cancellationToken.ThrowIfCancellationRequested();
            waiter = new Waiter(units);
            _waiters.Enqueue(waiter);
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.Register(() =>
            {
                // A cancelled waiter stays queued but is skipped (and its units are never taken).
                if (waiter.Completion.TrySetCanceled(cancellationToken)) WakeWaiters();
            });
        }

        return new ValueTask(waiter.Completion.Task);
    }

    /// <summary>Takes <paramref name="units"/> without waiting (error records, which a parser reports as it meets them).</summary>
    public void Charge(int units)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(units);
        lock (_gate) _used += units;
    }

    /// <summary>Gives back <paramref name="units"/>.</summary>
    public void Release(int units)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(units);
        if (units == 0) return;
        lock (_gate)
        {
            if (units > _used) throw new InvalidOperationException($"released {units} credit units, only {_used} are held");
            _used -= units;
        }

        WakeWaiters();
    }

    private bool Fits(int units) => _used + Math.Max(units, 1) <= Limit;

    private void WakeWaiters()
    {
        List<Waiter>? woken = null;
        lock (_gate)
        {
            while (_waiters.TryPeek(out var head))
            {
                if (head.Completion.Task.IsCompleted)
                {
                    _waiters.Dequeue();
                    continue;
                }

                if (!Fits(head.Units)) break;
                _waiters.Dequeue();
                _used += head.Units;
                (woken ??= []).Add(head);
            }
        }

        if (woken is null) return;
        var gaveBack = false;
        foreach (var w in woken)
        {
            w.Registration.Dispose();
            if (!w.Completion.TrySetResult())
            {
                // Cancelled between the dequeue and here: give its units back, and let the next waiter have them.
                lock (_gate) _used -= w.Units;
                gaveBack = true;
            }
        }

        if (gaveBack) WakeWaiters();
    }

    private sealed class Waiter(int units)
    {
        public int Units { get; } = units;
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration { get; set; }
    }
}
