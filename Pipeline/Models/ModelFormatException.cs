namespace LstmStream.Pipeline.Models;

/// <summary>
/// A model file that cannot be imported: malformed bytes, an unsupported construct, or weights whose
/// names or shapes do not form a supported model. The message names the file and the offending item.
/// </summary>
public sealed class ModelFormatException(string message, Exception? inner = null) : Exception(message, inner);
