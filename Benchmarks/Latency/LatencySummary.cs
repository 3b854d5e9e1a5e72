using System.Text.Json.Serialization;
using HdrHistogram;

namespace LstmStream.Benchmarks.Latency;

/// <summary>Percentiles of one latency distribution, in microseconds.</summary>
internal sealed record LatencySummary(
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("p50_us")] double P50,
    [property: JsonPropertyName("p99_us")] double P99,
    [property: JsonPropertyName("p999_us")] double P999,
    [property: JsonPropertyName("max_us")] double Max)
{
    /// <summary>Highest value a histogram of nanoseconds tracks (10 minutes).</summary>
    public const long HighestNanoseconds = 600_000_000_000;

    /// <summary>A histogram of nanoseconds, 3 significant digits.</summary>
    public static LongHistogram NewHistogram() => new(1, HighestNanoseconds, 3);

    public static LatencySummary From(HistogramBase nanoseconds) =>
        nanoseconds.TotalCount == 0
            ? new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN)
            : new LatencySummary(nanoseconds.TotalCount,
                nanoseconds.GetValueAtPercentile(50) / 1e3,
                nanoseconds.GetValueAtPercentile(99) / 1e3,
                nanoseconds.GetValueAtPercentile(99.9) / 1e3,
                nanoseconds.GetMaxValue() / 1e3);

    /// <summary>Records <paramref name="ticks"/> of <see cref="System.Diagnostics.Stopwatch"/> as nanoseconds (clamped to the range).</summary>
    public static void Record(HistogramBase histogram, long ticks)
    {
        var ns = (long)(ticks * (1e9 / System.Diagnostics.Stopwatch.Frequency));
        histogram.RecordValue(Math.Clamp(ns, 1, HighestNanoseconds));
    }

    public override string ToString() => $"p50 {P50:F0} µs, p99 {P99:F0} µs, p99.9 {P999:F0} µs, max {Max:F0} µs ({Count:N0} records)";
}
