using System.Diagnostics.Metrics;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// The service's instruments, on the <see cref="MeterName"/> meter (exported for Prometheus on <c>/metrics</c>):
/// <list type="bullet">
/// <item><c>lstmstream.steps</c> — steps processed (Prometheus <c>lstmstream_steps_total</c>; steps/s is its rate)</item>
/// <item><c>lstmstream.batch.rows</c> — rows per micro-batch (histogram)</item>
/// <item><c>lstmstream.keys.live</c>, <c>lstmstream.keys.created</c>, <c>lstmstream.keys.ended</c> — from the pipeline's <see cref="SessionCounters"/></item>
/// <item><c>lstmstream.keys.evicted</c> — idle / live-key-bound evictions</item>
/// <item><c>lstmstream.backend</c> — 1, tagged with the configured backend and each matrix's choice</item>
/// <item><c>lstmstream.records.in_flight</c> — records between ingress and their channel's output, all channels</item>
/// <item><c>lstmstream.sessions.checkpoints</c>, <c>lstmstream.sessions.checkpoint.failures</c>, <c>lstmstream.sessions.checkpoint.duration</c> (histogram, s),
/// <c>lstmstream.sessions.checkpoint.keys</c>, <c>lstmstream.sessions.store.bytes_written</c>, <c>lstmstream.sessions.restores</c> (load requests),
/// <c>lstmstream.sessions.restore.latency</c> (histogram, s), <c>lstmstream.sessions.store.errors</c>, <c>lstmstream.sessions.store.degraded</c>,
/// <c>lstmstream.sessions.duplicates</c>, <c>.gaps</c>, <c>.evicted_to_store</c>, <c>.restored</c>, <c>.restores_refused</c>, <c>.restore.waiting_records</c> (the pipeline's)
/// — the durable-session store (<see cref="SessionStoreFigures"/>), when one is configured</item>
/// <item><c>lstmstream.health</c> — what <c>/health</c> answers: 1 for the current status (tag <c>status</c>: ok, unavailable), 0 for the other</item>
/// </list>
/// The channels' instruments (records received, rejected, dropped, latency) are in <see cref="ChannelMetrics"/>.
/// </summary>
public sealed class ServiceMetrics : IDisposable
{
    public const string MeterName = "LstmStream";

    private static readonly int[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

    private readonly Meter _meter;
    private readonly Counter<long> _steps;
    private readonly Histogram<int> _batchRows;
    private volatile SessionCounters? _sessions;
    private volatile KeyValuePair<string, object?>[][] _backendTags = [];
    private volatile IChannelLoad? _channels;
    private volatile Func<bool>? _healthy;
    private volatile SessionStoreFigures? _store;
    private readonly Histogram<double> _checkpointDuration;
    private readonly Histogram<double> _restoreLatency;

    public ServiceMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _steps = _meter.CreateCounter<long>("lstmstream.steps", "{step}", "Steps processed (one per record)");
        _batchRows = _meter.CreateHistogram<int>("lstmstream.batch.rows", "{row}", "Rows per micro-batch (per layer matrix multiply)",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });
        _meter.CreateObservableGauge("lstmstream.keys.live", () => _sessions?.LiveKeys ?? 0, "{key}", "Keys holding state");
        _meter.CreateObservableCounter("lstmstream.keys.created", () => _sessions?.KeysCreated ?? 0, "{key}", "Keys whose state was created");
        _meter.CreateObservableCounter("lstmstream.keys.ended", () => _sessions?.KeysEnded ?? 0, "{key}", "Keys dropped by end or by the admin path");
        _meter.CreateObservableCounter("lstmstream.keys.evicted", () => Evictions, "{key}", "Keys evicted (idle timeout or live-key bound)");
        _meter.CreateObservableGauge("lstmstream.backend", ObserveBackend, null, "1 per matrix, tagged with the math backend in use");
        _meter.CreateObservableGauge("lstmstream.records.in_flight", () => _channels?.RecordsInFlight ?? 0, "{record}", "Records between ingress and output, all channels");
        _checkpointDuration = _meter.CreateHistogram<double>("lstmstream.sessions.checkpoint.duration", "s", "Duration of each checkpoint of durable sessions");
        _restoreLatency = _meter.CreateHistogram<double>("lstmstream.sessions.restore.latency", "s", "Latency of each load of stored sessions");
        _meter.CreateObservableCounter("lstmstream.sessions.checkpoints", () => _store?.Checkpoints ?? 0, "{checkpoint}", "Checkpoints that wrote every bucket");
        _meter.CreateObservableCounter("lstmstream.sessions.checkpoint.failures", () => _store?.CheckpointFailures ?? 0, "{checkpoint}",
            "Checkpoints of which a bucket could not be written (retried)");
        _meter.CreateObservableCounter("lstmstream.sessions.checkpoint.keys", () => _store?.KeysCheckpointed ?? 0, "{key}", "Keys written by checkpoints");
        _meter.CreateObservableCounter("lstmstream.sessions.store.bytes_written", () => _store?.BytesWritten ?? 0, "By", "Bytes of bucket snapshots written");
        _meter.CreateObservableCounter("lstmstream.sessions.restores", () => _store?.Loads ?? 0, "{request}", "Loads of stored sessions (keys not live)");
        _meter.CreateObservableCounter("lstmstream.sessions.store.errors", () => _store?.StoreErrors ?? 0, "{error}", "Failed loads and bucket writes");
        _meter.CreateObservableGauge("lstmstream.sessions.store.degraded", () => _store is { IsDegraded: true } ? 1 : 0, null,
            "1 while the last checkpoint failed (serving goes on, the store is behind)");
        _meter.CreateObservableCounter("lstmstream.sessions.duplicates", () => _sessions?.Duplicates ?? 0, "{record}",
            "Records whose seq was not above their key's last applied seq: answered as duplicates, not applied");
        _meter.CreateObservableCounter("lstmstream.sessions.gaps", () => _sessions?.Gaps ?? 0, "{record}",
            "Records whose seq jumped ahead of their key's last applied seq + 1 (stepped)");
        _meter.CreateObservableCounter("lstmstream.sessions.evicted_to_store", () => _sessions?.EvictedToStore ?? 0, "{key}",
            "Keys evicted (idle or bound) whose state was handed to the session store");
        _meter.CreateObservableCounter("lstmstream.sessions.restored", () => _sessions?.Restored ?? 0, "{key}",
            "Keys whose stored state was loaded before their first step here");
        _meter.CreateObservableCounter("lstmstream.sessions.restores_refused", () => _sessions?.RestoresRefused ?? 0, "{key}",
            "Stored states not used because another model produced them (the key started from zero)");
        _meter.CreateObservableGauge("lstmstream.sessions.restore.waiting_records", () => _sessions?.RestoreWaitingRows ?? 0, "{record}",
            "Records waiting for their key's stored state to load");
        _meter.CreateObservableGauge("lstmstream.health", ObserveHealth, null, "1 for the status /health answers (ok, unavailable), 0 for the other");
    }

    /// <summary>Evictions so far (idle timeout and live-key bound).</summary>
    private long Evictions => _sessions?.Evicted ?? 0;

    /// <summary>Connects the observable instruments to the running pipeline.</summary>
    public void AttachPipeline(SessionCounters sessions, string configuredBackend, IReadOnlyList<string> matrixChoices, IChannelLoad channels)
    {
        _sessions = sessions;
        _channels = channels;
        _backendTags = matrixChoices.Select(choice => new KeyValuePair<string, object?>[]
        {
            new("backend", configuredBackend),
            new("matrix", choice),
        }).ToArray();
    }

    /// <summary>Connects the durable-session instruments to the store's figures.</summary>
    public void AttachStore(SessionStoreFigures figures)
    {
        _store = figures;
        figures.CheckpointRecorded = (duration, _) => _checkpointDuration.Record(duration.TotalSeconds);
        figures.LoadRecorded = (latency, _) => _restoreLatency.Record(latency.TotalSeconds);
    }

    /// <summary>Connects <c>lstmstream.health</c> to what <c>/health</c> answers.</summary>
    public void AttachHealth(Func<bool> isHealthy) => _healthy = isHealthy;

    public void BatchProcessed(int rows)
    {
        _steps.Add(rows);
        _batchRows.Record(rows);
    }

    private IEnumerable<Measurement<int>> ObserveBackend()
    {
        foreach (var tags in _backendTags) yield return new Measurement<int>(1, tags);
    }

    private IEnumerable<Measurement<int>> ObserveHealth()
    {
        var healthy = _healthy?.Invoke() ?? false;
        yield return new Measurement<int>(healthy ? 1 : 0, new KeyValuePair<string, object?>("status", "ok"));
        yield return new Measurement<int>(healthy ? 0 : 1, new KeyValuePair<string, object?>("status", "unavailable"));
    }

    public void Dispose() => _meter.Dispose();
}
