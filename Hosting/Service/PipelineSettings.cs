using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Service;

/// <summary>The one place where the service's settings become the pipeline's <see cref="PipelineOptions"/>.</summary>
public static class PipelineSettings
{
    /// <param name="options">The service's settings.</param>
    /// <param name="onKeyEvicted">Told of every eviction, on the session stage's thread (must be cheap).</param>
    /// <param name="store">The durable session store (<c>Sessions:Store</c>), or null: sessions live in memory only.</param>
    /// <param name="onStoredStateRefused">Told of a stored state of another model that was not used (key, its model identity).</param>
    public static PipelineOptions Create(ServiceOptions options, Action<string, EvictionReason>? onKeyEvicted = null, ISessionStore? store = null,
        Action<string, string>? onStoredStateRefused = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new PipelineOptions
        {
            MaxBatchRows = options.Batch.MaxRows,
            MaxBatchDelay = TimeSpan.FromMilliseconds(options.Batch.MaxDelayMilliseconds),
            AsyncLayers = options.Batch.AsyncLayers,
            IdleTimeout = options.Sessions.IdleTimeout == TimeSpan.Zero ? null : options.Sessions.IdleTimeout,
            MaxLiveKeys = options.Sessions.MaxLiveKeys == 0 ? null : options.Sessions.MaxLiveKeys,
            OnKeyEvicted = onKeyEvicted,
            SessionStore = store,
            EvictTo = store is null ? null : options.Sessions.EvictsToStore(options.Sessions.StoreLocation()) ? SessionEviction.Store : SessionEviction.Discard,
            OnStoredStateRefused = onStoredStateRefused,
        };
    }
}
