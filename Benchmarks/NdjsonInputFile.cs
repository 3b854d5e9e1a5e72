using System.Globalization;
using System.Text;

namespace LstmStream.Benchmarks;

/// <summary>
/// Synthetic sensor records for the <c>run</c> throughput row, one NDJSON line each:
/// <c>{"key":"sensor-17","seq":42,"x":[…]}</c>, keys sent round robin, each feature a sine with its own
/// phase and period plus noise, written with 5 significant decimals. Files are deterministic and named by
/// their parameters, so an existing complete file (written under a temporary name, then renamed) is reused.
/// </summary>
internal static class NdjsonInputFile
{
    public const int Keys = 1024;

    public static string Ensure(string directory, string prefix, int features, long lines)
    {
        var path = Path.Combine(directory, $"{prefix}{features}x{lines}.ndjson");
        if (File.Exists(path)) return path;
        var partial = path + $".{Environment.ProcessId}.partial";
        var random = new Random(features * 7919 + (int)(lines % 100_000));
        var phase = new double[Keys * features];
        var period = new double[Keys * features];
        for (var i = 0; i < phase.Length; i++)
        {
            phase[i] = random.NextDouble() * 2 * Math.PI;
            period[i] = 20 + random.NextDouble() * 180;
        }

        using (var writer = new StreamWriter(partial, false, new UTF8Encoding(false), 1 << 20))
        {
            var line = new StringBuilder(64 + 12 * features);
            for (long n = 0; n < lines; n++)
            {
                var key = (int)(n % Keys);
                var seq = n / Keys;
                line.Clear().Append("{\"key\":\"sensor-").Append(key).Append("\",\"seq\":").Append(seq).Append(",\"x\":[");
                for (var f = 0; f < features; f++)
                {
                    var i = key * features + f;
                    var value = Math.Sin(phase[i] + 2 * Math.PI * seq / period[i]) + 0.05 * (random.NextDouble() * 2 - 1);
                    if (f > 0) line.Append(',');
                    line.Append(value.ToString("0.#####", CultureInfo.InvariantCulture));
                }

                line.Append("]}\n");
                writer.Write(line);
            }
        }

        File.Move(partial, path, overwrite: true);
        return path;
    }
}
