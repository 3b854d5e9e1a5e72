using System.Text.Json.Serialization;

namespace LstmStream.Benchmarks;

/// <summary>
/// One matrix of a <c>ceiling</c> row: every backend's time per multiply and the one that won, so the table and
/// <c>bench-results.json</c> say which backend (managed, mkl, openblas, onednn) is fastest at which shape.
/// </summary>
internal sealed record CeilingMatrix
{
    [JsonPropertyName("workload")] public required string Workload { get; init; }
    [JsonPropertyName("keys")] public required int Keys { get; init; }
    [JsonPropertyName("threads")] public required int Threads { get; init; }
    [JsonPropertyName("matrix")] public required string Matrix { get; init; }
    [JsonPropertyName("k")] public required int K { get; init; }
    [JsonPropertyName("n")] public required int N { get; init; }
    [JsonPropertyName("winner")] public required string Winner { get; init; }

    /// <summary>Microseconds per multiply of all keys' rows, per backend, in the order they were timed.</summary>
    [JsonPropertyName("us_per_multiply")] public required IReadOnlyDictionary<string, double> MicrosecondsPerMultiply { get; init; }
}
