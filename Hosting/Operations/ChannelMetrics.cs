using System.Diagnostics.Metrics;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// The channels' instruments, on the service's meter (<see cref="ServiceMetrics.MeterName"/>), each tagged with
/// the channel kind (tcp, console, simulator, mqtt) where it has one:
/// <list type="bullet">
/// <item><c>lstmstream.record.latency</c> — seconds from a record's ingress to its output reaching its channel (histogram)</item>
/// <item><c>lstmstream.records.received</c> / <c>lstmstream.records.rejected</c> — records accepted / rejected</item>
/// <item><c>lstmstream.records.dropped</c> — outputs whose channel had gone</item>
/// <item><c>lstmstream.tcp.connections.refused</c> — TCP connections refused, tagged <c>reason</c>: <c>limit</c> (<c>Tcp:MaxConnections</c>
/// were open), <c>tls</c> (the TLS handshake failed or timed out), <c>auth</c> (no or an unknown identity)</item>
/// <item><c>lstmstream.tcp.connections.idle_closed</c> — TCP connections closed by <c>Tcp:IdleTimeout</c></item>
/// <item><c>lstmstream.mqtt.acknowledged</c> — QoS 1/2 MQTT readings acknowledged to the broker (this and the next
/// only exist once the MQTT channel has started: a service without MQTT exports no MQTT figures)</item>
/// <item><c>lstmstream.mqtt.awaiting_acknowledgement</c> — MQTT readings received and not yet acknowledged (with
/// <c>Mqtt:Acknowledge = AfterCheckpoint</c>: those the last written checkpoint does not cover; bounded by the broker's
/// in-flight window, <c>Mqtt:Client:ReceiveMaximum</c>)</item>
/// </list>
/// </summary>
public sealed class ChannelMetrics
{
    /// <summary>Latency buckets in seconds: 25 µs … 10 s.</summary>
    private static readonly double[] LatencyBuckets =
        [0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Histogram<double> _latency;
    private readonly Counter<long> _received;
    private readonly Counter<long> _rejected;
    private readonly Meter _meter;
    private long _dropped;
    private readonly long[] _connectionsRefused = new long[RefusalReasons.Length];
    private long _idleClosed;
    private int _mqttObserved;

    /// <summary>The values of the <c>reason</c> tag of <c>lstmstream.tcp.connections.refused</c>.</summary>
    private static readonly string[] RefusalReasons = ["limit", "tls", "auth"];

    public ChannelMetrics(IMeterFactory meterFactory)
    {
        // The factory hands out one meter per name: these instruments sit beside ServiceMetrics' ones.
        var meter = _meter = meterFactory.Create(ServiceMetrics.MeterName);
        _latency = meter.CreateHistogram<double>("lstmstream.record.latency", "s", "Time from a record's ingress to its output reaching its channel",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _received = meter.CreateCounter<long>("lstmstream.records.received", "{record}", "Records accepted into the pipeline");
        _rejected = meter.CreateCounter<long>("lstmstream.records.rejected", "{record}", "Records rejected (bad input)");
        // Observed rather than added to, so that it is exported from zero on (rate() and alerts see the first drop).
        meter.CreateObservableCounter("lstmstream.records.dropped", () => Interlocked.Read(ref _dropped), "{record}",
            "Outputs dropped because their channel had disconnected");
        meter.CreateObservableCounter("lstmstream.tcp.connections.refused", ObserveRefusals, "{connection}",
            "TCP connections refused: limit (Tcp:MaxConnections were open), tls (handshake failed), auth (no or an unknown identity)");
        meter.CreateObservableCounter("lstmstream.tcp.connections.idle_closed", () => Interlocked.Read(ref _idleClosed), "{connection}",
            "TCP connections closed after Tcp:IdleTimeout without input or pending output");
    }

    /// <summary>
    /// The MQTT ingress's acknowledgement figures (read when the metrics are collected): registers their instruments, so
    /// only a service whose MQTT channel runs exports them. Once per service.
    /// </summary>
    public void ObserveMqttAcknowledgement(Func<long> acknowledged, Func<long> awaiting)
    {
        ArgumentNullException.ThrowIfNull(acknowledged);
        ArgumentNullException.ThrowIfNull(awaiting);
        if (Interlocked.Exchange(ref _mqttObserved, 1) != 0) throw new InvalidOperationException("the MQTT acknowledgement figures are already observed");
        _meter.CreateObservableCounter("lstmstream.mqtt.acknowledged", acknowledged, "{message}", "QoS 1/2 MQTT readings acknowledged to the broker");
        _meter.CreateObservableGauge("lstmstream.mqtt.awaiting_acknowledgement", awaiting, "{message}",
            "MQTT readings received and not yet acknowledged (after the checkpoint: not yet covered by a written checkpoint)");
    }

    public void RecordLatency(TimeSpan latency, string channelKind) =>
        _latency.Record(latency.TotalSeconds, new KeyValuePair<string, object?>("channel", channelKind));

    public void RecordsReceived(string channelKind, int records) =>
        _received.Add(records, new KeyValuePair<string, object?>("channel", channelKind));

    public void RecordRejected(string channelKind) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("channel", channelKind));

    public void OutputDropped() => Interlocked.Increment(ref _dropped);

    /// <summary>A TCP connection was refused; <paramref name="reason"/> is <c>limit</c>, <c>tls</c> or <c>auth</c>.</summary>
    public void ConnectionRefused(string reason)
    {
        var index = Array.IndexOf(RefusalReasons, reason);
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(reason), reason, $"expected one of {string.Join(", ", RefusalReasons)}");
        Interlocked.Increment(ref _connectionsRefused[index]);
    }

    /// <summary>A TCP connection was closed by its idle timeout.</summary>
    public void ConnectionIdleClosed() => Interlocked.Increment(ref _idleClosed);

    private IEnumerable<Measurement<long>> ObserveRefusals()
    {
        for (var i = 0; i < RefusalReasons.Length; i++)
            yield return new Measurement<long>(Interlocked.Read(ref _connectionsRefused[i]), new KeyValuePair<string, object?>("reason", RefusalReasons[i]));
    }
}
