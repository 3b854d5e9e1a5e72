using System.Globalization;
using System.Text.Json;

namespace LstmStream.Tests.Service;

/// <summary>The records of the cluster load tests (a function of key number and seq) and what to check in their outputs.</summary>
internal static class ClusterLoad
{
    public static string Key(int k) => $"load-{k}";

    public static string Record(int k, int seq) =>
        NdjsonClient.Record(Key(k), seq, 0.1f * (k % 7) - 0.3f, MathF.Sin(0.37f * seq + k), 0.01f * (seq % 50), -0.125f * (k % 5));

    /// <summary>Seq 1..<paramref name="lastSeq"/> of keys 0..<paramref name="keys"/>-1 in rounds (every key's seq 1, then 2, ...).</summary>
    public static List<string> Rounds(int keys, int lastSeq)
    {
        var records = new List<string>();
        for (var seq = 1; seq <= lastSeq; seq++)
        {
            for (var k = 0; k < keys; k++) records.Add(Record(k, seq));
        }

        return records;
    }

    /// <summary>The seq of an output line.</summary>
    public static int SeqOf(string line)
    {
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.GetProperty("seq").GetInt32();
    }

    /// <summary>Each key's next seq after the last one answered in <paramref name="outputs"/> (1 for a key without output).</summary>
    public static Dictionary<int, int> NextAfter(IEnumerable<int> keys, IEnumerable<string> outputs)
    {
        var byKey = NdjsonClient.ByKey(outputs.Where(IsStepOutput));
        return keys.ToDictionary(k => k, k => byKey.TryGetValue(Key(k), out var lines) ? SeqOf(lines[^1]) + 1 : 1);
    }

    /// <summary>An output of a stepped record (not a duplicate answer, not a commit record).</summary>
    public static bool IsStepOutput(string line) => line.Contains("\"y\":", StringComparison.Ordinal);

    public static int KeyNumber(string key) => int.Parse(key["load-".Length..], CultureInfo.InvariantCulture);
}
