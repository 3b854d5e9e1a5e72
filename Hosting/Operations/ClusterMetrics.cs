using System.Diagnostics.Metrics;
using LstmStream.Actors.Cluster;
using Microsoft.Extensions.Logging;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// Cluster mode's instruments, on the <see cref="ServiceMetrics.MeterName"/> meter (Prometheus names in brackets):
/// <list type="bullet">
/// <item><c>lstmstream.cluster.buckets.owned</c> — buckets whose entity lives on this node now</item>
/// <item><c>lstmstream.cluster.buckets.taken_over</c> [<c>_total</c>] — buckets whose entity started on this node (first use, rebalance, a node that left or died)</item>
/// <item><c>lstmstream.cluster.buckets.handed_off</c> [<c>_total</c>] — buckets this node handed off to another one (rebalance, leave)</item>
/// <item><c>lstmstream.cluster.handoff.duration</c> (histogram, s) — a hand-off from the shard's stop message to the entity's stop:
/// the bucket's records drained, its keys exported and freed, its snapshot written</item>
/// <item><c>lstmstream.cluster.records.awaiting_outputs</c> — records this node's channels accepted and routed to their bucket's
/// owner whose outputs have not come back: among them the records a shard region holds while their bucket is handed off
/// (buffered, in order), so a hand-off shows as a rise that falls back once the bucket's new owner steps them</item>
/// <item><c>lstmstream.cluster.records.queued</c> — of those, records waiting on this node for their bucket's envelope in flight
/// (one envelope per bucket and node is in flight: see <c>BucketRouter</c>)</item>
/// <item><c>lstmstream.cluster.records.entered_directly</c> [<c>_total</c>] — records of this node's channels whose bucket's entity
/// lives on this node and that entered its pipeline without the shard region (the local owner shortcut: <c>BucketRouter</c>)</item>
/// <item><c>lstmstream.cluster.records.rerouted</c> [<c>_total</c>] — envelopes a shard region dropped during a hand-off that were routed again</item>
/// <item><c>lstmstream.cluster.records.routed_here</c> — records routed to this node's pipeline from any node's channels whose output has not gone back yet</item>
/// <item><c>lstmstream.cluster.routing.latency</c> (histogram, s) — from routing a batch to the first of its outputs back on this
/// node, per batch of outputs and connection</item>
/// </list>
/// </summary>
public sealed class ClusterMetrics
{
    private readonly Histogram<double> _routingLatency;
    private readonly Histogram<double> _handOffDuration;
    private volatile Func<long>? _awaitingOutputs;
    private volatile Func<int>? _routedHere;
    private volatile Func<long>? _queued;
    private volatile Func<long>? _resent;
    private volatile Func<long>? _enteredDirectly;

    public ClusterMetrics(IMeterFactory meterFactory, HandOffFigures figures, LocalBuckets buckets, ILogger<ClusterMetrics> logger)
    {
        var meter = meterFactory.Create(ServiceMetrics.MeterName);
        meter.CreateObservableGauge("lstmstream.cluster.buckets.owned", () => buckets.Count, "{bucket}", "Buckets whose entity lives on this node");
        meter.CreateObservableCounter("lstmstream.cluster.buckets.taken_over", () => figures.BucketsTakenOver, "{bucket}",
            "Buckets whose entity started on this node");
        meter.CreateObservableCounter("lstmstream.cluster.buckets.handed_off", () => figures.BucketsHandedOff, "{bucket}",
            "Buckets handed off to another node");
        _handOffDuration = meter.CreateHistogram<double>("lstmstream.cluster.handoff.duration", "s",
            "Hand-off of a bucket: its records drained, its keys exported and freed, its snapshot written");
        meter.CreateObservableGauge("lstmstream.cluster.records.awaiting_outputs", () => _awaitingOutputs?.Invoke() ?? 0, "{record}",
            "Records routed from this node whose outputs have not come back (held by the shard regions during a hand-off)");
        meter.CreateObservableGauge("lstmstream.cluster.records.routed_here", () => _routedHere?.Invoke() ?? 0, "{record}",
            "Records routed to this node's pipeline whose output has not gone back yet");
        meter.CreateObservableGauge("lstmstream.cluster.records.queued", () => _queued?.Invoke() ?? 0, "{record}",
            "Records waiting on this node for their bucket's envelope in flight (one per bucket)");
        meter.CreateObservableCounter("lstmstream.cluster.records.rerouted", () => _resent?.Invoke() ?? 0, "{envelope}",
            "Envelopes of records a shard region dropped during a hand-off, routed again");
        meter.CreateObservableCounter("lstmstream.cluster.records.entered_directly", () => _enteredDirectly?.Invoke() ?? 0, "{record}",
            "Records of this node's channels that entered its pipeline directly: their bucket's entity lives here");
        _routingLatency = meter.CreateHistogram<double>("lstmstream.cluster.routing.latency", "s",
            "From routing a batch to its owner to the first of its outputs back, per batch of outputs and connection",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10] });
        // Which buckets moved where: the old owner logs each hand-off, the new owner each take-over (its address leads the log).
        figures.OnHandedOff = h =>
        {
            _handOffDuration.Record(h.Took.TotalSeconds);
            logger.LogInformation("Bucket {Bucket} handed off in {Elapsed:F0} ms: {Freed} key(s) freed from this node's pipeline, {Exported} changed since the last checkpoint written; {Stored} key(s) stored",
                h.Bucket, h.Took.TotalMilliseconds, h.Freed, h.Exported, h.StoredKeys);
        };
        figures.OnTakenOver = bucket => logger.LogInformation("Bucket {Bucket} is now owned by this node", bucket);
    }

    /// <summary>Connects the record instruments to the pipeline hub.</summary>
    public void Attach(Func<long> awaitingOutputs, Func<int> routedHere, Func<long> queued, Func<long> resent, Func<long> enteredDirectly)
    {
        _enteredDirectly = enteredDirectly;
        _awaitingOutputs = awaitingOutputs;
        _routedHere = routedHere;
        _queued = queued;
        _resent = resent;
    }

    public void RoutingLatency(TimeSpan latency) => _routingLatency.Record(latency.TotalSeconds);
}
