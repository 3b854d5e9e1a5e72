namespace LstmStream.Pipeline.Models;

/// <summary>
/// A model file that cannot be loaded: malformed, or using a feature the engine does not support.
/// The message names the place (file, node, attribute, tensor) and the offending value.
/// </summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string message)
        : base(message)
    {
    }

    public ModelFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
