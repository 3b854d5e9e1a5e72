namespace LstmStream.Pipeline.Streaming;

/// <summary>Why a pipeline dropped a live key's state on its own (see <see cref="PipelineOptions.OnKeyEvicted"/>).</summary>
public enum EvictionReason
{
    /// <summary>The key had no step for <see cref="PipelineOptions.IdleTimeout"/> or longer.</summary>
    Idle,

    /// <summary>
    /// <see cref="PipelineOptions.MaxLiveKeys"/> keys were live when a new key arrived, and this one was the
    /// least recently used.
    /// </summary>
    Bound,
}
