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

    /// <summary>
    /// Export the keys of <see cref="StateRequest.Bucket"/> whose state changed since the bucket's last checkpoint
    /// (the session stage names them) and hand them to the session store at the pipeline's end.
    /// </summary>
    Checkpoint,

    /// <summary>
    /// Hand-off of <see cref="StateRequest.Bucket"/> (cluster mode, the bucket moves to another node): export its keys whose
    /// state changed since the bucket's last checkpoint to the session store, as <see cref="Checkpoint"/> does, and free every
    /// live key of the bucket (<see cref="StateRequest.Dropped"/>).
    /// </summary>
    HandOff,

    /// <summary>Name the buckets with keys whose state changed since their last checkpoint (<see cref="StateRequest.Buckets"/>).</summary>
    DirtyBuckets,

    /// <summary>
    /// The session stage's own item carrying only a <see cref="SessionTransfer"/> (keys evicted while no data
    /// flowed); never submitted through <see cref="PipelineStateAccess"/>.
    /// </summary>
    Transfer,
}
