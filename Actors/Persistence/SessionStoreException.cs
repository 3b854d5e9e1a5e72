namespace LstmStream.Actors.Persistence;

/// <summary>The session store cannot do what was asked: the message says which bucket or setting and why.</summary>
public sealed class SessionStoreException(string message, Exception? inner = null) : Exception(message, inner);
