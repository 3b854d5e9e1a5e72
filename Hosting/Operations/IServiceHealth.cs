namespace LstmStream.Hosting.Operations;

/// <summary>What <c>GET /health</c> reports.</summary>
public interface IServiceHealth
{
    /// <summary>Started, not stopping, pipeline running.</summary>
    bool IsHealthy { get; }
}
