using System.Globalization;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The server's <c>lstmstream_batch_rows</c> histogram as its sum and count, read from the Prometheus text of
/// <c>/metrics</c>: two scrapes give the mean rows per micro-batch in between (<see cref="MeanSince"/>), which
/// shows how full the batches were at a load.
/// </summary>
internal readonly record struct PrometheusBatchRows(double Sum, double Count)
{
    public static PrometheusBatchRows Parse(string metricsText)
    {
        double sum = 0, count = 0;
        foreach (var line in metricsText.Split('\n'))
        {
            if (line.StartsWith("lstmstream_batch_rows_sum", StringComparison.Ordinal)) sum += ValueOf(line);
            else if (line.StartsWith("lstmstream_batch_rows_count", StringComparison.Ordinal)) count += ValueOf(line);
        }

        return new PrometheusBatchRows(sum, count);
    }

    /// <summary>Mean rows per batch stepped after <paramref name="earlier"/> was scraped; null when none was.</summary>
    public double? MeanSince(PrometheusBatchRows earlier) => Count > earlier.Count ? (Sum - earlier.Sum) / (Count - earlier.Count) : null;

    private static double ValueOf(string line)
    {
        var afterName = line.LastIndexOf('}') is var brace and >= 0 ? line[(brace + 1)..] : line[line.IndexOf(' ')..];
        return double.Parse(afterName.Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
