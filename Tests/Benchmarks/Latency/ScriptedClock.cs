using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>
/// A clock for the open-loop generator that only moves when waited on: each wait ends at the asked time plus the
/// lateness the test scripted for that wait (none when the script ran out), and every asked time is kept.
/// </summary>
internal sealed class ScriptedClock(long now, params long[] lateness) : IOpenLoopClock
{
    private int _waits;

    public long Now { get; private set; } = now;

    /// <summary>The times the sender asked to be woken at, in order.</summary>
    public List<long> Asked { get; } = [];

    public void WaitUntil(long timestamp)
    {
        Asked.Add(timestamp);
        var late = _waits < lateness.Length ? lateness[_waits] : 0;
        _waits++;
        Now = Math.Max(Now, timestamp) + late;
    }
}
