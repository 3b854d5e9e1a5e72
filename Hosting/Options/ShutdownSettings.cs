namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Shutdown</c>: graceful stop on SIGTERM / Ctrl-C.</summary>
public sealed class ShutdownSettings
{
    /// <summary>
    /// Time to stop accepting, finish every accepted step and deliver its output. Records still in flight
    /// when it passes are dropped (logged) and the exit status is non-zero.
    /// </summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(20);
}
