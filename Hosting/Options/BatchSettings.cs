namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Batch</c>: micro-batching ahead of the layers.</summary>
public sealed class BatchSettings
{
    /// <summary>Most rows (distinct keys) stepped in one matrix multiply.</summary>
    public int MaxRows { get; set; } = 256;

    /// <summary>Longest wait for a micro-batch to fill, in milliseconds.</summary>
    public double MaxDelayMilliseconds { get; set; } = 2;

    /// <summary>Run each layer on its own thread (pipelining across cores).</summary>
    public bool AsyncLayers { get; set; }
}
