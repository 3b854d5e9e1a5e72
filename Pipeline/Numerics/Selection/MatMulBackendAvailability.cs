namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>Whether a concrete math backend can be created here, and if not, why (files tried, package).</summary>
public sealed record MatMulBackendAvailability(string Name, bool IsAvailable, string Reason)
{
    /// <summary><c>name: available</c> or <c>name: unavailable: reason</c>.</summary>
    public override string ToString() => IsAvailable ? $"{Name}: available" : $"{Name}: unavailable: {Reason}";
}
