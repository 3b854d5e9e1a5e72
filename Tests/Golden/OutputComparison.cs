using System.Text.Json;

namespace LstmStream.Tests.Golden;

/// <summary>Compares NDJSON outputs record by record, matched by (key, seq), with the golden pass rule.</summary>
public static class OutputComparison
{
    public sealed record Result(int Compared, int Missing, int Unexpected, double MaxAbsoluteError, IReadOnlyList<string> Failures);

    public static Dictionary<(string Key, long Seq), float[]> Read(string ndjson)
    {
        var records = new Dictionary<(string, long), float[]>();
        var lineNumber = 0;
        foreach (var line in ndjson.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            var key = root.GetProperty("key").GetString()!;
            var seq = root.GetProperty("seq").GetInt64();
            var y = root.GetProperty("y").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            if (!records.TryAdd((key, seq), y)) throw new InvalidDataException($"line {lineNumber}: duplicate record ({key}, {seq})");
        }

        return records;
    }

    /// <summary>|actual − expected| ≤ abs + rel·|expected| per element.</summary>
    public static Result Compare(string expectedNdjson, string actualNdjson, double abs, double rel)
    {
        var expected = Read(expectedNdjson);
        var actual = Read(actualNdjson);
        var failures = new List<string>();
        int compared = 0, missing = 0;
        double maxError = 0;
        foreach (var ((key, seq), want) in expected)
        {
            if (!actual.TryGetValue((key, seq), out var got))
            {
                missing++;
                if (failures.Count < 10) failures.Add($"({key}, {seq}) missing");
                continue;
            }

            compared++;
            if (got.Length != want.Length)
            {
                failures.Add($"({key}, {seq}) has {got.Length} values, expected {want.Length}");
                continue;
            }

            for (var i = 0; i < want.Length; i++)
            {
                var error = Math.Abs((double)got[i] - want[i]);
                maxError = Math.Max(maxError, error);
                if (error > abs + rel * Math.Abs(want[i]) && failures.Count < 10)
                    failures.Add($"({key}, {seq}) y[{i}] = {got[i]:R}, expected {want[i]:R} (error {error:E2})");
            }
        }

        var unexpected = actual.Keys.Count(k => !expected.ContainsKey(k));
        return new Result(compared, missing, unexpected, maxError, failures);
    }
}
