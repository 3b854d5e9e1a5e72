using LstmStream.Hosting.Operations;
using Microsoft.Extensions.Logging;

namespace LstmStream.Hosting.Service;

/// <summary>
/// Logs one statistics line every <c>LstmStream:StatisticsInterval</c> while the service runs: steps so far, steps/s
/// since the previous line, live keys, channels, records in flight. Runs on <see cref="TimeProvider"/>'s timer, so a
/// test drives it with a fake clock.
/// </summary>
public sealed class StatisticsLogger : IAsyncDisposable
{
    private readonly Func<long> _steps;
    private readonly Func<int> _liveKeys;
    private readonly IChannelLoad _channels;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private long _lastSteps;
    private long _lastTimestamp;

    /// <param name="interval">Time between two lines (positive).</param>
    /// <param name="steps">Steps that have come out of the pipeline so far.</param>
    /// <param name="liveKeys">Keys holding state now.</param>
    /// <param name="channels">Channels and records in flight.</param>
    /// <param name="time">The clock and timer.</param>
    /// <param name="logger">Where the lines go (Information).</param>
    public StatisticsLogger(TimeSpan interval, Func<long> steps, Func<int> liveKeys, IChannelLoad channels, TimeProvider time, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _steps = steps;
        _liveKeys = liveKeys;
        _channels = channels;
        _time = time;
        _logger = logger;
        _lastTimestamp = time.GetTimestamp();
        _timer = time.CreateTimer(_ => Log(), null, interval, interval);
    }

    private void Log()
    {
        var steps = _steps();
        var now = _time.GetTimestamp();
        var seconds = _time.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
        var rate = seconds > 0 ? (steps - _lastSteps) / seconds : 0;
        (_lastSteps, _lastTimestamp) = (steps, now);
        _logger.LogInformation("statistics: {Steps} steps ({Rate:F0}/s), {LiveKeys} live keys, {Channels} channels, {InFlight} records in flight",
            steps, rate, _liveKeys(), _channels.Channels, _channels.RecordsInFlight);
    }

    public ValueTask DisposeAsync() => _timer.DisposeAsync();
}
