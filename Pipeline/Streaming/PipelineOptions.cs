namespace LstmStream.Pipeline.Streaming;

/// <summary>How <see cref="LstmPipeline"/> batches and runs.</summary>
public sealed record PipelineOptions
{
    /// <summary>Most rows (distinct keys) per micro-batch, i.e. per layer matrix multiply.</summary>
    public int MaxBatchRows { get; init; } = 256;

    /// <summary>Longest time a step waits in an open micro-batch before the batch is emitted anyway.</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// An asynchronous boundary between layers, so layers run on different threads (pipelining). Off: the
    /// whole pipeline is fused into one actor.
    /// </summary>
    public bool AsyncLayers { get; init; }

    /// <summary>Batches buffered at each asynchronous boundary (a power of two).</summary>
    public int AsyncBufferBatches { get; init; } = 2;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting when an option is out of range.</summary>
    public void Validate()
    {
        if (MaxBatchRows <= 0)
            throw new ArgumentException($"{nameof(MaxBatchRows)} must be positive, got {MaxBatchRows}");
        if (MaxBatchDelay <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(MaxBatchDelay)} must be positive, got {MaxBatchDelay}");
        if (AsyncBufferBatches <= 0 || (AsyncBufferBatches & (AsyncBufferBatches - 1)) != 0)
            throw new ArgumentException($"{nameof(AsyncBufferBatches)} must be a positive power of two, got {AsyncBufferBatches}");
    }
}
