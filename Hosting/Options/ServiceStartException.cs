namespace LstmStream.Hosting.Options;

/// <summary>The service cannot start: the message names the setting at fault and why (printed as is).</summary>
public sealed class ServiceStartException(string message, Exception? inner = null) : Exception(message, inner);
