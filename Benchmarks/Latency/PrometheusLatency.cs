using System.Globalization;
using System.Text.RegularExpressions;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The server's own <c>lstmstream_record_latency_seconds</c> histogram of one channel, read from the Prometheus
/// text of <c>/metrics</c>: cumulative bucket counts by upper bound. Two scrapes give the histogram of what happened
/// between them (<see cref="Minus"/>), and its quantiles are estimated as Prometheus' <c>histogram_quantile</c>
/// does (linear within a bucket; in the last, open bucket the largest finite bound).
/// </summary>
internal sealed partial class PrometheusLatency
{
    private readonly SortedDictionary<double, double> _cumulative;

    private PrometheusLatency(SortedDictionary<double, double> cumulative) => _cumulative = cumulative;

    public double Count => _cumulative.Count == 0 ? 0 : _cumulative.Last().Value;

    public static PrometheusLatency Parse(string metricsText, string channel)
    {
        var buckets = new SortedDictionary<double, double>();
        foreach (var line in metricsText.Split('\n'))
        {
            if (!line.StartsWith("lstmstream_record_latency_seconds_bucket{", StringComparison.Ordinal)) continue;
            if (!line.Contains($"channel=\"{channel}\"", StringComparison.Ordinal)) continue;
            var le = Le().Match(line);
            if (!le.Success) continue;
            var bound = le.Groups[1].Value == "+Inf" ? double.PositiveInfinity : double.Parse(le.Groups[1].Value, CultureInfo.InvariantCulture);
            var value = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
            buckets[bound] = buckets.GetValueOrDefault(bound) + double.Parse(value, CultureInfo.InvariantCulture);
        }

        return new PrometheusLatency(buckets);
    }

    /// <summary>What was recorded after <paramref name="earlier"/> was scraped.</summary>
    public PrometheusLatency Minus(PrometheusLatency earlier) =>
        new(new SortedDictionary<double, double>(_cumulative.ToDictionary(b => b.Key, b => b.Value - earlier._cumulative.GetValueOrDefault(b.Key))));

    /// <summary>The estimated <paramref name="q"/> quantile (0..1), in microseconds; NaN when nothing was recorded.</summary>
    public double QuantileMicroseconds(double q)
    {
        var total = Count;
        if (total <= 0) return double.NaN;
        var rank = q * total;
        double lowerBound = 0, lowerCount = 0;
        foreach (var (bound, count) in _cumulative)
        {
            if (count >= rank)
            {
                if (double.IsPositiveInfinity(bound)) return lowerBound * 1e6;
                var inBucket = count - lowerCount;
                var fraction = inBucket <= 0 ? 1 : (rank - lowerCount) / inBucket;
                return (lowerBound + (bound - lowerBound) * fraction) * 1e6;
            }

            lowerBound = bound;
            lowerCount = count;
        }

        return lowerBound * 1e6;
    }

    public ServerLatency Summary() => new((long)Count, QuantileMicroseconds(0.5), QuantileMicroseconds(0.99), QuantileMicroseconds(0.999));

    [GeneratedRegex("le=\"([^\"]+)\"")]
    private static partial Regex Le();
}

/// <summary>The server's histogram quantiles for one measured phase, in microseconds (bucket estimates).</summary>
internal sealed record ServerLatency(
    [property: System.Text.Json.Serialization.JsonPropertyName("count")] long Count,
    [property: System.Text.Json.Serialization.JsonPropertyName("p50_us")] double P50,
    [property: System.Text.Json.Serialization.JsonPropertyName("p99_us")] double P99,
    [property: System.Text.Json.Serialization.JsonPropertyName("p999_us")] double P999);
