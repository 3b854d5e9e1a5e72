namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Batch</c>: micro-batching ahead of the layers.</summary>
public sealed class BatchSettings
{
    /// <summary>Most rows (distinct keys) stepped in one matrix multiply.</summary>
    public int MaxRows { get; set; } = 256;

    /// <summary>
    /// 0 (the default): a micro-batch is whatever has arrived when the model can take the next one (no wait).
    /// Positive: a partial batch waits up to this many milliseconds for more rows even when the model is idle.
    /// </summary>
    public double MaxDelayMilliseconds { get; set; }

    /// <summary>Run each layer on its own thread (pipelining across cores).</summary>
    public bool AsyncLayers { get; set; }
}
