using System.Text.Json.Serialization;

namespace LstmStream.Benchmarks.Latency;

/// <summary>One measured load: what was offered, what the client saw (due time → output) and what the server counted.</summary>
internal sealed record LatencyRow
{
    [JsonPropertyName("transport")] public required string Transport { get; init; }
    [JsonPropertyName("workload")] public required string Workload { get; init; }
    [JsonPropertyName("keys")] public required int Keys { get; init; }
    [JsonPropertyName("connections")] public required int Connections { get; init; }
    /// <summary>"lone key", "10% of peak", …</summary>
    [JsonPropertyName("load")] public required string Load { get; init; }
    [JsonPropertyName("offered_per_second")] public required double OfferedPerSecond { get; init; }
    [JsonPropertyName("measured_seconds")] public required double MeasuredSeconds { get; init; }
    [JsonPropertyName("client")] public required LatencySummary Client { get; init; }
    /// <summary>How late the load generator itself wrote the records (due time → write).</summary>
    [JsonPropertyName("send_lag")] public required LatencySummary SendLag { get; init; }
    /// <summary>
    /// The generator's write to the output's arrival (the client figure without the generator's own lateness): with the
    /// send lag, it tells a late wake-up of the generator from a slow round trip. Null for MQTT.
    /// </summary>
    [JsonPropertyName("from_write")] public LatencySummary? FromWrite { get; init; }
    /// <summary>The service's lstmstream_record_latency_seconds over the measured phase (null for the echo floor).</summary>
    [JsonPropertyName("server")] public ServerLatency? Server { get; init; }
    /// <summary>Cores used over the measured phase by the load generator, serve and the whole (shared) machine.</summary>
    [JsonPropertyName("cpu")] public CpuUse? Cpu { get; init; }
    /// <summary>Mean rows per micro-batch serve stepped over the measured phase (null for the echo floor).</summary>
    /// <summary>
    /// Processor time of the open-loop generator's own thread per record, microseconds, over the whole run (the
    /// <see cref="Cpu"/> generator figure is the whole benchmark process: also the in-process echo server and the
    /// runtime's own threads). Null for MQTT and where not measured.
    /// </summary>
    [JsonPropertyName("generator_thread_us_per_record")] public double? GeneratorThreadMicrosecondsPerRecord { get; init; }
    [JsonPropertyName("mean_batch_rows")] public double? MeanBatchRows { get; init; }
    [JsonPropertyName("records")] public required long Records { get; init; }
    [JsonPropertyName("outputs")] public required long Outputs { get; init; }
    [JsonPropertyName("errors")] public required long Errors { get; init; }
}

/// <summary>The peak outputs/s through <c>serve</c>, beside the same run's in-process rows of the same model.</summary>
internal sealed record PeakRow
{
    [JsonPropertyName("transport")] public required string Transport { get; init; }
    [JsonPropertyName("workload")] public required string Workload { get; init; }
    [JsonPropertyName("keys")] public required int Keys { get; init; }
    [JsonPropertyName("connections")] public required int Connections { get; init; }
    [JsonPropertyName("outputs_per_second")] public required double OutputsPerSecond { get; init; }
    /// <summary>Cores used while the peak was measured (generator, serve, machine); null where not measured.</summary>
    [JsonPropertyName("cpu")] public CpuUse? Cpu { get; init; }
    /// <summary>The lstmstream-stream row (whole pipeline in process, 1 thread) measured in the same run, if any.</summary>
    [JsonPropertyName("stream_steps_per_second")] public double? StreamStepsPerSecond { get; init; }
    /// <summary>The lstmstream-run row (NDJSON file through the run verb's path) measured in the same run, if any.</summary>
    [JsonPropertyName("run_lines_per_second")] public double? RunLinesPerSecond { get; init; }
    [JsonPropertyName("share_of_stream")] public double? ShareOfStream => StreamStepsPerSecond is { } s ? OutputsPerSecond / s : null;
}

/// <summary>One of the targets, checked against this run's figures.</summary>
internal sealed record LatencyTarget(
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("measured")] string Measured,
    [property: JsonPropertyName("met")] bool Met);
