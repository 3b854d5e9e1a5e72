namespace LstmStream.Pipeline.Streaming;

/// <summary>What a <see cref="StateRequest"/> asks of the stages.</summary>
internal enum StateRequestKind
{
    /// <summary>Read the keys' rows (and with <see cref="StateRequest.Remove"/>, drop the keys afterwards).</summary>
    Export,

    /// <summary>Write the given rows, creating the keys that are not live.</summary>
    Import,

    /// <summary>Zero the rows of the keys that are live; they stay live.</summary>
    Reset,

    /// <summary>Free the keys that are live, without reading their rows.</summary>
    Drop,

    /// <summary>Read the session figures (<see cref="StateRequest.Counts"/>).</summary>
    Counts,
}
