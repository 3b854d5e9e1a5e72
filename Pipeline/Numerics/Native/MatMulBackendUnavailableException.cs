namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// A math backend was asked for by name but its native library cannot be used here. The message names
/// the backend, the library files tried, what went wrong and the package that provides the library.
/// </summary>
public sealed class MatMulBackendUnavailableException : Exception
{
    /// <summary>Names the <paramref name="backend"/> and why it cannot be used.</summary>
    public MatMulBackendUnavailableException(string backend, string reason)
        : base($"math backend '{backend}' is not available: {reason}")
    {
        Backend = backend;
        Reason = reason;
    }

    /// <summary>The backend asked for.</summary>
    public string Backend { get; }

    /// <summary>Why it cannot be used (library files tried, the package that provides them).</summary>
    public string Reason { get; }
}
