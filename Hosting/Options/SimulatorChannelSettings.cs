namespace LstmStream.Hosting.Options;

/// <summary>
/// <c>LstmStream:Simulator</c>: a SIMULATED sensor source (sine + noise + spikes) feeding the pipeline, so a
/// fresh start shows outputs and statistics with no other program. Its outputs are counted and sampled to
/// the log, never written anywhere else. Turn it off in production.
/// </summary>
public sealed class SimulatorChannelSettings
{
    public bool Enabled { get; set; }

    /// <summary>Number of simulated sensors (keys <c>sim-sensor-0</c> …).</summary>
    public int Keys { get; set; } = 64;

    /// <summary>Records per second over all simulated sensors.</summary>
    public double RecordsPerSecond { get; set; } = 200;

    /// <summary>Chance that a reading carries a spike.</summary>
    public double SpikeProbability { get; set; } = 0.01;

    public int Seed { get; set; } = 7;

    /// <summary>How often the simulated source logs its counts and one sample output.</summary>
    public TimeSpan LogInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Simulated records in flight at once.</summary>
    public int MaxInFlightRecords { get; set; } = 4096;
}
