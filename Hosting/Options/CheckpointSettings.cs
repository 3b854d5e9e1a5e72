namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Sessions:Checkpoint</c>: when keys' state is written to the session store.</summary>
public sealed class CheckpointSettings
{
    /// <summary>Time between checkpoints (each writes the keys stepped since the previous one); also at graceful shutdown.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>After a failed checkpoint the next one runs after 1 s, doubling up to this, until one succeeds.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);
}
