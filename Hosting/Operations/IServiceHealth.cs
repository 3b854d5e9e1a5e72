namespace LstmStream.Hosting.Operations;

/// <summary>What <c>GET /health</c> reports.</summary>
public interface IServiceHealth
{
    /// <summary>Started, not stopping, pipeline running.</summary>
    bool IsHealthy { get; }

    /// <summary>Serving, but the session store is behind: the last checkpoint could not be written (it is retried).</summary>
    bool IsDegraded { get; }
}
