using System.Buffers;
using System.Text;

namespace LstmStream.Hosting.Simulation;

/// <summary>Settings of the synthetic sensor source.</summary>
public sealed record SensorSimulatorSettings
{
    /// <summary>Number of distinct sensors (keys <c>sensor-0</c> …).</summary>
    public int Keys { get; init; } = 16;

    /// <summary>Readings per sensor vector (must equal the model's input size).</summary>
    public int Features { get; init; } = 4;

    /// <summary>Total readings to produce (0 = unbounded).</summary>
    public long Count { get; init; } = 1000;

    /// <summary>Readings per second over all sensors (0 = as fast as possible).</summary>
    public double Rate { get; init; }

    /// <summary>Probability that a reading carries a spike.</summary>
    public double SpikeProbability { get; init; } = 0.01;

    /// <summary>Random seed, so a run can be repeated exactly.</summary>
    public int Seed { get; init; } = 7;

    public string KeyPrefix { get; init; } = "sensor-";

    /// <summary>
    /// The <c>seq</c> of every sensor's first reading (the waveform does not depend on it). A source that restarts
    /// against a durable session store starts above what it sent before, or its readings are duplicates.
    /// </summary>
    public long FirstSeq { get; init; }

    public void Validate()
    {
        if (FirstSeq < 0) throw new ArgumentOutOfRangeException(nameof(FirstSeq), FirstSeq, "first seq must not be negative");
        if (Keys <= 0) throw new ArgumentOutOfRangeException(nameof(Keys), Keys, "keys must be positive");
        if (Features <= 0) throw new ArgumentOutOfRangeException(nameof(Features), Features, "features must be positive");
        if (Count < 0) throw new ArgumentOutOfRangeException(nameof(Count), Count, "count must be zero (unbounded) or positive");
        if (Rate < 0 || double.IsNaN(Rate)) throw new ArgumentOutOfRangeException(nameof(Rate), Rate, "rate must be zero (unthrottled) or positive");
        if (SpikeProbability is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(SpikeProbability), SpikeProbability, "spike probability must be within 0..1");
    }
}

/// <summary>
/// Synthetic sensor readings as NDJSON records: each sensor has its own phase, period and amplitude per
/// feature; a reading is a sine plus Gaussian noise plus an occasional spike. Sensors send in round
/// robin, each with its own <c>seq</c> counting from <see cref="SensorSimulatorSettings.FirstSeq"/>.
/// </summary>
public sealed class SensorSimulator
{
    private readonly SensorSimulatorSettings _settings;
    private readonly Random _random;
    private readonly double[] _phase, _period, _amplitude;
    private readonly long[] _seq;

    public SensorSimulator(SensorSimulatorSettings settings)
    {
        settings.Validate();
        _settings = settings;
        _random = new Random(settings.Seed);
        int n = settings.Keys * settings.Features;
        _phase = new double[n];
        _period = new double[n];
        _amplitude = new double[n];
        for (var i = 0; i < n; i++)
        {
            _phase[i] = _random.NextDouble() * 2 * Math.PI;
            _period[i] = 20 + _random.NextDouble() * 180;
            _amplitude[i] = 0.5 + _random.NextDouble();
        }

        _seq = new long[settings.Keys];
    }

    /// <summary>Number of records produced so far.</summary>
    public long Produced { get; private set; }

    /// <summary>
    /// Writes the next record as one NDJSON line (with '\n') into <paramref name="output"/>; returns its sensor's number
    /// (key <see cref="SensorSimulatorSettings.KeyPrefix"/> + number) and its <c>seq</c>.
    /// </summary>
    public (int Sensor, long Seq) WriteNext(IBufferWriter<byte> output)
    {
        var key = (int)(Produced % _settings.Keys);
        var step = _seq[key]++;
        var seq = _settings.FirstSeq + step;
        Produced++;
        var sb = new StringBuilder(32 + 16 * _settings.Features);
        sb.Append("{\"key\":\"").Append(_settings.KeyPrefix).Append(key).Append("\",\"seq\":").Append(seq).Append(",\"x\":[");
        for (var f = 0; f < _settings.Features; f++)
        {
            var i = key * _settings.Features + f;
            var value = _amplitude[i] * Math.Sin(_phase[i] + 2 * Math.PI * step / _period[i]) + 0.05 * Gaussian();
            if (_random.NextDouble() < _settings.SpikeProbability) value += (_random.Next(2) == 0 ? -1 : 1) * (3 + 2 * _random.NextDouble());
            if (f > 0) sb.Append(',');
            sb.Append(((float)value).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        }

        sb.Append("]}\n");
        var text = sb.ToString();
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
        return (key, seq);
    }

    /// <summary>Writes records to <paramref name="output"/> until <see cref="SensorSimulatorSettings.Count"/> (paced by the rate) or cancellation.</summary>
    public async Task WriteAsync(Stream output, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (!cancellationToken.IsCancellationRequested && (_settings.Count == 0 || Produced < _settings.Count))
        {
            WriteNext(buffer);
            if (_settings.Rate > 0)
            {
                var due = TimeSpan.FromSeconds(Produced / _settings.Rate);
                var wait = due - started.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await output.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                    await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                    buffer.Clear();
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }
            }

            if (buffer.WrittenCount > (1 << 15))
            {
                await output.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                buffer.Clear();
            }
        }

        await output.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private double Gaussian()
    {
        var u1 = 1.0 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
