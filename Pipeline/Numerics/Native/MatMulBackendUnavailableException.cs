namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// A math backend was asked for by name but its native library cannot be used here. The message names
/// the backend, the library files tried, what went wrong and the package that provides the library.
/// </summary>
public sealed class MatMulBackendUnavailableException : Exception
{
    public MatMulBackendUnavailableException(string backend, string reason)
        : base($"math backend '{backend}' is not available: {reason}")
    {
        Backend = backend;
        Reason = reason;
    }

    public string Backend { get; }

    public string Reason { get; }
}
