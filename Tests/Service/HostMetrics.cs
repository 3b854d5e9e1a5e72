using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace LstmStream.Tests.Service;

/// <summary>
/// The instruments of one in-process host, read directly: a <see cref="MeterListener"/> that listens only to the meters
/// of that host's <see cref="IMeterFactory"/> (<see cref="Meter.Scope"/>). <c>/metrics</c> cannot tell hosts apart: its
/// exporter subscribes to the meter by name, so it also sees every other live host of the test process (tests of other
/// classes run in parallel), and two hosts' observable instruments of one name report into one series, last value wins.
/// Started before the host is built, so its counters count from the host's start (measurements of the service's meter
/// are kept per meter factory until <see cref="Attach"/> names the host's); observable instruments are read when asked.
/// </summary>
internal sealed class HostMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(object? Scope, string Name), double> _counted = new();
    private readonly object _gate = new();
    private readonly Dictionary<string, double> _observed = new(StringComparer.Ordinal);
    private volatile IMeterFactory? _factory;

    public HostMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Counters and observable instruments (histograms, recorded per record, are not read here).
            if (instrument.Meter.Name == Hosting.Operations.ServiceMetrics.MeterName &&
                (instrument.IsObservable || instrument is Counter<long> or Counter<int> or Counter<double> or UpDownCounter<long>))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Record(instrument, value));
        _listener.Start();
    }

    /// <summary>The host is built: from now on only the meters of its <paramref name="factory"/> are read.</summary>
    public void Attach(IMeterFactory factory) => _factory = factory ?? throw new ArgumentNullException(nameof(factory));

    /// <summary>
    /// The value of instrument <paramref name="name"/> (its OpenTelemetry name, e.g. <c>lstmstream.mqtt.acknowledged</c>),
    /// summed over its tags; null when this host has no such instrument.
    /// </summary>
    public double? Read(string name)
    {
        var factory = _factory ?? throw new InvalidOperationException("the host has not been attached");
        lock (_gate)
        {
            _observed.Clear();
            _listener.RecordObservableInstruments();
            if (_observed.TryGetValue(name, out var observed)) return observed;
        }

        return _counted.TryGetValue((factory, name), out var counted) ? counted : null;
    }

    /// <summary>Polls <see cref="Read"/> until <paramref name="condition"/> holds (an absent instrument reads as 0); returns the value.</summary>
    public async Task<double> WaitForAsync(string name, Func<double, bool> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = Read(name) ?? 0;
            if (condition(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: {name} is {value} after {timeout}");
            await Task.Delay(50);
        }
    }

    private void Record(Instrument instrument, double value)
    {
        if (instrument.IsObservable)
        {
            // Called inside Read, under its lock, by RecordObservableInstruments: only this host's instruments count.
            if (ReferenceEquals(instrument.Meter.Scope, _factory)) _observed[instrument.Name] = _observed.GetValueOrDefault(instrument.Name) + value;
        }
        else if (_factory is not { } factory || ReferenceEquals(instrument.Meter.Scope, factory))
        {
            _counted.AddOrUpdate((instrument.Meter.Scope, instrument.Name), value, (_, total) => total + value);
        }
    }

    public void Dispose() => _listener.Dispose();
}
