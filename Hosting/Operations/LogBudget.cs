namespace LstmStream.Hosting.Operations;

/// <summary>
/// A rate limit for log lines of one kind (a rejected record, a refused connection): at most <see cref="LinesPerInterval"/>
/// per <see cref="Interval"/>. The lines held back are counted and the next line written says how many, so a flood of bad
/// input writes a bounded log while its counters (metrics) stay exact. Thread-safe.
/// </summary>
public sealed class LogBudget
{
    public const int DefaultLinesPerInterval = 10;
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private long _intervalStart;
    private int _written;
    private long _heldBack;

    public LogBudget(TimeProvider? time = null, int linesPerInterval = DefaultLinesPerInterval, TimeSpan? interval = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(linesPerInterval);
        _time = time ?? TimeProvider.System;
        LinesPerInterval = linesPerInterval;
        Interval = interval ?? DefaultInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Interval, TimeSpan.Zero, nameof(interval));
        _intervalStart = _time.GetTimestamp();
    }

    public int LinesPerInterval { get; }

    public TimeSpan Interval { get; }

    /// <summary>
    /// Whether a line may be written now. When it may, <paramref name="heldBack"/> is the number of lines held back since the
    /// last one written (to be said in this one); when it may not, the line is counted as held back.
    /// </summary>
    public bool TryWrite(out long heldBack)
    {
        lock (_gate)
        {
            if (_time.GetElapsedTime(_intervalStart) >= Interval)
            {
                _intervalStart = _time.GetTimestamp();
                _written = 0;
            }

            if (_written < LinesPerInterval)
            {
                _written++;
                heldBack = _heldBack;
                _heldBack = 0;
                return true;
            }

            _heldBack++;
            heldBack = 0;
            return false;
        }
    }
}
