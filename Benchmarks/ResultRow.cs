using System.Text.Json.Serialization;

namespace LstmStream.Benchmarks;

/// <summary>One measured row of the table and of <c>bench-results.json</c>.</summary>
internal sealed record ResultRow
{
    [JsonPropertyName("workload")] public required string Workload { get; init; }
    [JsonPropertyName("keys")] public required int Keys { get; init; }
    [JsonPropertyName("engine")] public required string Engine { get; init; }
    [JsonPropertyName("backend")] public required string Backend { get; init; }
    [JsonPropertyName("threads")] public required int Threads { get; init; }
    [JsonPropertyName("steps_per_s")] public required double StepsPerSecond { get; init; }
    [JsonPropertyName("gflops")] public required double Gflops { get; init; }
    [JsonPropertyName("pct_of_ceiling")] public double? PercentOfCeiling { get; set; }
    [JsonPropertyName("ratio_to_onnxruntime_batched")] public double? RatioToOrtBatched { get; set; }
    [JsonPropertyName("ratio_to_onnxruntime_per_key")] public double? RatioToOrtPerKey { get; set; }
    [JsonPropertyName("alloc_bytes_per_step")] public required double AllocatedBytesPerStep { get; init; }
    [JsonPropertyName("steps_timed")] public required long StepsTimed { get; init; }

    /// <summary>Steps/s of every pass in pass order (the row keeps the fastest); null: not kept for this engine.</summary>
    [JsonPropertyName("pass_steps_per_s")] public IReadOnlyList<double>? PassStepsPerSecond { get; init; }

    /// <summary>
    /// The process's CPU time per step of every pass in pass order, in nanoseconds (every thread); null: not measured
    /// for this engine (<see cref="CpuPerPass"/>).
    /// </summary>
    [JsonPropertyName("pass_cpu_ns_per_step")] public IReadOnlyList<double>? PassCpuNanosecondsPerStep { get; init; }

    /// <summary>
    /// <see cref="PassCpuNanosecondsPerStep"/> from each pass's CPU seconds per step: null when a pass measured none (the
    /// ceiling's multiplies time the wall clock only: NaN, which JSON cannot hold).
    /// </summary>
    public static IReadOnlyList<double>? CpuPerPass(IEnumerable<double> cpuSecondsPerStep)
    {
        var values = cpuSecondsPerStep.Select(s => s * 1e9).ToArray();
        return values.Length > 0 && values.All(double.IsFinite) ? values : null;
    }

    /// <summary>Rows per micro-batch over the engine's streams, counted after they finished (the row count picks a tuned backend); null: not a stream.</summary>
    [JsonPropertyName("rows_per_micro_batch")] public double? RowsPerMicroBatch { get; init; }
}

/// <summary>Engine names used in rows.</summary>
internal static class Engines
{
    public const string Ceiling = "ceiling";
    public const string Core = "lstmstream-core";
    public const string Stream = "lstmstream-stream";
    public const string StreamStore = "lstmstream-stream-store";
    public const string Typed = "lstmstream-typed";
    public const string TypedBatched = "lstmstream-typed-batched";
    public const string TypedFloor = "lstmstream-typed-floor";
    public const string Run = "lstmstream-run";
    public const string Tcp = "lstmstream-tcp";
    public const string TcpTls = "lstmstream-tcp-tls";
    public const string OrtBatched = "onnxruntime-batched";
    public const string OrtPerKey = "onnxruntime-per-key";

    /// <summary>The engines <see cref="BenchmarkSuite"/> measures per configuration (what <c>--engine</c> chooses from).</summary>
    public static IReadOnlyList<string> Suite { get; } = [Ceiling, Core, Stream, StreamStore, Typed, TypedBatched, TypedFloor, OrtBatched, OrtPerKey];
}
