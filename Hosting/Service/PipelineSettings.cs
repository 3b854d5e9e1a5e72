using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Service;

/// <summary>The one place where the service's settings become the pipeline's <see cref="PipelineOptions"/>.</summary>
public static class PipelineSettings
{
    public static PipelineOptions Create(ServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new PipelineOptions
        {
            MaxBatchRows = options.Batch.MaxRows,
            MaxBatchDelay = TimeSpan.FromMilliseconds(options.Batch.MaxDelayMilliseconds),
            AsyncLayers = options.Batch.AsyncLayers,
            // Session lifecycle (LstmStream:Sessions): pass options.Sessions.IdleTimeout and
            // options.Sessions.MaxLiveKeys here once PipelineOptions carries them (the sessions work adds them).
        };
    }
}
