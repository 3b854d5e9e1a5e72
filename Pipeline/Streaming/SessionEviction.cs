namespace LstmStream.Pipeline.Streaming;

/// <summary>What idle and least-recently-used eviction do with a key's state when a session store is set (<see cref="PipelineOptions.EvictTo"/>).</summary>
public enum SessionEviction
{
    /// <summary>The state is handed to the store; the key's next record continues from it.</summary>
    Store,

    /// <summary>The state is dropped and the key's stored state deleted; its next record starts from zero state.</summary>
    Discard,
}
