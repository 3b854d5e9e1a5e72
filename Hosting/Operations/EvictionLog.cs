using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// Logs evictions as one line per interval: how many keys were evicted, for which reason, and a few sample keys
/// (escaped and cut, <see cref="LoggedText"/>), never a line per key: a flood of new keys that pushes out
/// hundreds of thousands of old ones writes one line a minute, not hundreds of thousands. Bound evictions
/// (the live-key bound is too small for the traffic) make the line Information; idle ones alone are routine
/// (Debug). Thread-safe: evictions may be reported from the stream while the timer writes the line.
/// </summary>
public sealed class EvictionLog : IDisposable
{
    /// <summary>The default interval between summary lines.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(60);

    /// <summary>Sample keys named per line.</summary>
    public const int SampleKeys = 3;

    /// <summary>Characters of a sample key that are logged.</summary>
    public const int SampleKeyChars = 40;

    private readonly ILogger _logger;
    private readonly TimeSpan _interval;
    private readonly int _maxLiveKeys;
    private readonly TimeSpan _idleTimeout;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private readonly List<string> _samples = new(SampleKeys);
    private long _bound;
    private long _idle;

    /// <param name="logger">Where the summary lines go.</param>
    /// <param name="time">The clock whose timer writes a line every <paramref name="interval"/>.</param>
    /// <param name="interval">How often a line is written (when anything was evicted).</param>
    /// <param name="maxLiveKeys">The live-key bound, named in the line.</param>
    /// <param name="idleTimeout">The idle timeout, named in the line.</param>
    public EvictionLog(ILogger logger, TimeProvider time, TimeSpan interval, int maxLiveKeys, TimeSpan idleTimeout)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), interval, "the interval must be positive");
        _logger = logger;
        _interval = interval;
        _maxLiveKeys = maxLiveKeys;
        _idleTimeout = idleTimeout;
        _timer = time.CreateTimer(_ => Flush(), null, interval, interval);
    }

    /// <summary>Counts one evicted key; the first few of an interval are kept as samples.</summary>
    public void Record(string key, EvictionReason reason)
    {
        lock (_gate)
        {
            if (reason == EvictionReason.Bound) _bound++;
            else _idle++;
            if (_samples.Count < SampleKeys) _samples.Add(key);
        }
    }

    /// <summary>Writes the line for what was counted since the last one (nothing when nothing was evicted).</summary>
    public void Flush()
    {
        long bound, idle;
        string samples;
        lock (_gate)
        {
            (bound, idle) = (_bound, _idle);
            if (bound + idle == 0) return;
            samples = string.Join(", ", _samples.Select(k => $"'{LoggedText.Of(k, SampleKeyChars)}'"));
            _bound = _idle = 0;
            _samples.Clear();
        }

        _logger.Log(bound > 0 ? LogLevel.Information : LogLevel.Debug,
            "Evicted {Evicted} keys in the last {Interval}: {Bound} at the live-key bound {MaxLiveKeys} (least recently used), {Idle} idle for {IdleTimeout}; e.g. {SampleKeys}",
            bound + idle, _interval, bound, _maxLiveKeys, idle, _idleTimeout, samples);
    }

    /// <summary>Stops the timer and writes what is still counted.</summary>
    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}
