namespace LstmStream.Hosting.Options;

/// <summary>
/// <c>LstmStream:Sessions</c>: the lifecycle of keys' state. Carried to the pipeline by
/// <c>Service.PipelineSettings.Create</c>, the one place that turns settings into <c>PipelineOptions</c>.
/// </summary>
public sealed class SessionSettings
{
    /// <summary>A key that sent no step for this long is evicted (its next step starts from zero state). Zero: never.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Most keys holding state at once; beyond it the least recently used idle key is evicted. Zero: no bound.</summary>
    public int MaxLiveKeys { get; set; } = 1_000_000;

    /// <summary>
    /// Evictions are logged as one line per this interval (a count per reason and a few sample keys), never a line
    /// per key; evicted keys are counted in the metrics at once.
    /// </summary>
    public TimeSpan EvictionLogInterval { get; set; } = TimeSpan.FromSeconds(60);
}
