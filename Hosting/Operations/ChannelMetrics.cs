using System.Diagnostics.Metrics;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// The channels' instruments, on the service's meter (<see cref="ServiceMetrics.MeterName"/>), each tagged with
/// the channel kind (tcp, console, simulator, mqtt) where it has one:
/// <list type="bullet">
/// <item><c>lstmstream.record.latency</c> — seconds from a record's ingress to its output reaching its channel (histogram)</item>
/// <item><c>lstmstream.records.received</c> / <c>lstmstream.records.rejected</c> — records accepted / rejected</item>
/// <item><c>lstmstream.records.dropped</c> — outputs whose channel had gone</item>
/// <item><c>lstmstream.tcp.connections.refused</c> — TCP connections closed at once because <c>Tcp:MaxConnections</c> were open</item>
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
    private long _dropped;
    private long _connectionsRefused;

    public ChannelMetrics(IMeterFactory meterFactory)
    {
        // The factory hands out one meter per name: these instruments sit beside ServiceMetrics' ones.
        var meter = meterFactory.Create(ServiceMetrics.MeterName);
        _latency = meter.CreateHistogram<double>("lstmstream.record.latency", "s", "Time from a record's ingress to its output reaching its channel",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _received = meter.CreateCounter<long>("lstmstream.records.received", "{record}", "Records accepted into the pipeline");
        _rejected = meter.CreateCounter<long>("lstmstream.records.rejected", "{record}", "Records rejected (bad input)");
        // Observed rather than added to, so that it is exported from zero on (rate() and alerts see the first drop).
        meter.CreateObservableCounter("lstmstream.records.dropped", () => Interlocked.Read(ref _dropped), "{record}",
            "Outputs dropped because their channel had disconnected");
        meter.CreateObservableCounter("lstmstream.tcp.connections.refused", () => Interlocked.Read(ref _connectionsRefused), "{connection}",
            "TCP connections refused because Tcp:MaxConnections were open");
    }

    public void RecordLatency(TimeSpan latency, string channelKind) =>
        _latency.Record(latency.TotalSeconds, new KeyValuePair<string, object?>("channel", channelKind));

    public void RecordsReceived(string channelKind, int records) =>
        _received.Add(records, new KeyValuePair<string, object?>("channel", channelKind));

    public void RecordRejected(string channelKind) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("channel", channelKind));

    public void OutputDropped() => Interlocked.Increment(ref _dropped);

    /// <summary>A TCP connection was refused at the connection limit.</summary>
    public void ConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);
}
