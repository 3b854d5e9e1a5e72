using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LstmStream.Benchmarks;

/// <summary>The results of one benchmark run: the markdown table and <c>bench-results.json</c>.</summary>
internal sealed class Report
{
    /// <summary>Fewest typed steps/s per fast-path step/s the issue allows: the typed API costs at most 10 % of the pooled path.</summary>
    private const double TypedBound = 0.9;

    public required MachineInfo Machine { get; init; }
    public required BenchmarkOptions Options { get; init; }
    public required List<ResultRow> Rows { get; init; }
    public required List<RunThroughput.Result> Runs { get; init; }
    public required List<MemoryPerKey.Result> Memory { get; init; }
    public required List<SessionStoreSpeed.Result> Stores { get; init; }
    public List<CheckpointedStream.Result> Checkpointed { get; init; } = [];
    public List<MemoryPerKey.WithStoreResult> StoreMemory { get; init; } = [];
    public required List<string> Failures { get; init; }
    public required List<CeilingMatrix> CeilingMatrices { get; init; }
    public List<TcpThroughput.Result> Tcp { get; init; } = [];

    /// <summary>Fills % of ceiling and the ratios to the ONNX Runtime rows of the same workload, keys and threads.</summary>
    public void Relate()
    {
        foreach (var row in Rows)
        {
            var ceiling = Find(row, Engines.Ceiling);
            var batched = Find(row, Engines.OrtBatched);
            var perKey = Find(row, Engines.OrtPerKey);
            row.PercentOfCeiling = ceiling is null ? null : 100 * row.StepsPerSecond / ceiling.StepsPerSecond;
            row.RatioToOrtBatched = batched is null ? null : row.StepsPerSecond / batched.StepsPerSecond;
            row.RatioToOrtPerKey = perKey is null ? null : row.StepsPerSecond / perKey.StepsPerSecond;
        }
    }

    /// <summary>
    /// Typed ÷ stream steps/s: the median over the passes of the two measured in the same pass (the lower middle one of an
    /// even count: never the kinder of two), with the number of pairs; without per-pass figures the fastest passes' ratio and 0.
    /// </summary>
    internal static (double Ratio, int Pairs) TypedRatio(ResultRow typed, ResultRow stream)
    {
        if (typed.PassStepsPerSecond is not { Count: > 0 } t || stream.PassStepsPerSecond is not { } f || f.Count != t.Count)
            return (typed.StepsPerSecond / stream.StepsPerSecond, 0);
        var ratios = t.Zip(f, (a, b) => a / b).Order().ToArray();
        return (ratios[(ratios.Length - 1) / 2], ratios.Length);
    }

    /// <summary>The lower median of <paramref name="values"/>, null when there are none.</summary>
    private static double? Median(IReadOnlyList<double>? values) =>
        values is { Count: > 0 } ? values.Order().ElementAt((values.Count - 1) / 2) : null;

    private ResultRow? Find(ResultRow like, string engine) =>
        Rows.FirstOrDefault(r => r.Engine == engine && r.Workload == like.Workload && r.Keys == like.Keys && r.Threads == like.Threads);

    public string Markdown()
    {
        var s = new StringBuilder();
        s.AppendLine(Machine.ToString());
        s.AppendLine();
        s.AppendLine("| workload | keys | threads | engine | backend | steps/s | GFLOP/s | % of ceiling | × ORT batched | × ORT per-key | alloc B/step |");
        s.AppendLine("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|");
        var ordered = Rows
            .OrderBy(r => Array.IndexOf(Workload.Names.ToArray(), r.Workload))
            .ThenBy(r => r.Keys)
            .ThenBy(r => r.Threads)
            .ThenBy(r => EngineOrder(r.Engine));
        foreach (var r in ordered)
        {
            s.Append(CultureInfo.InvariantCulture,
                $"| {r.Workload} | {r.Keys} | {r.Threads} | {r.Engine} | {r.Backend} | {r.StepsPerSecond:N0} | {r.Gflops:F2} | {Format(r.PercentOfCeiling, "F0")}{(r.PercentOfCeiling is null ? "" : "%")} | {Format(r.RatioToOrtBatched, "F2")} | {Format(r.RatioToOrtPerKey, "F1")} | {r.AllocatedBytesPerStep.ToString("F1", CultureInfo.InvariantCulture)} |");
            s.AppendLine();
        }

        s.AppendLine();
        if (CeilingMatrices.Count > 0)
        {
            // Which backend is fastest at which shape: every backend's time per multiply in the ceiling rows.
            var names = CeilingMatrices.SelectMany(m => m.MicrosecondsPerMultiply.Keys).Distinct().ToList();
            s.AppendLine(CultureInfo.InvariantCulture, $"| workload | keys | threads | matrix | {string.Join(" | ", names.Select(n => $"{n} µs"))} | fastest |");
            s.AppendLine($"|---|---:|---:|---|{string.Concat(names.Select(_ => "---:|"))}---|");
            foreach (var m in CeilingMatrices.OrderBy(m => Array.IndexOf(Workload.Names.ToArray(), m.Workload)).ThenBy(m => m.Keys).ThenBy(m => m.Threads))
            {
                var times = names.Select(n => m.MicrosecondsPerMultiply.TryGetValue(n, out var us) ? us.ToString("F1", CultureInfo.InvariantCulture) : "–");
                s.AppendLine(CultureInfo.InvariantCulture, $"| {m.Workload} | {m.Keys} | {m.Threads} | {m.Matrix} [{m.K}x{m.N}] | {string.Join(" | ", times)} | {m.Winner} |");
            }

            s.AppendLine();
        }

        var typedRows = Rows.Where(r => r.Engine is Engines.Typed or Engines.TypedBatched).ToList();
        if (typedRows.Count > 0)
        {
            s.AppendLine(CultureInfo.InvariantCulture,
                $"Typed ratios: the typed flow and the fast path run on the same backend instances (one `auto` plan per workload and thread count), the same inputs and micro-batch size (rows per micro-batch shown, counted after each stream ended), measured back to back in every pass in alternating order, each measurement the median of its repetitions on a freshly collected heap; the ratio judged is the median over the passes of typed ÷ stream steps/s of the same pass (with an even number of passes the lower middle one), and the fastest passes' steps/s and the median CPU time per step (every thread) are shown beside it. The bound: at least {TypedBound:P0} of the fast path's steps/s.");
        }

        foreach (var typed in typedRows)
        {
            if (Find(typed, Engines.Stream) is not { } stream) continue;
            var what = typed.Engine == Engines.Typed ? "typed API" : "typed API, batches";
            var (ratio, pairs) = TypedRatio(typed, stream);
            var bound = ratio >= TypedBound ? "within the 10 % bound" : "NOT within the 10 % bound";
            var rule = pairs > 0 ? $"median of {pairs} paired passes" : "fastest pass each";
            var cpu = Median(typed.PassCpuNanosecondsPerStep) is { } typedCpu && Median(stream.PassCpuNanosecondsPerStep) is { } streamCpu
                ? $"; CPU {typedCpu:N0} vs {streamCpu:N0} ns/step"
                : "";
            var rows = typed.RowsPerMicroBatch is { } typedBatchRows && stream.RowsPerMicroBatch is { } streamRows
                ? $"; {typedBatchRows:F0} vs {streamRows:F0} rows per micro-batch"
                : "";
            s.AppendLine(CultureInfo.InvariantCulture,
                $"{what} ({typed.Engine} ÷ {Engines.Stream}, {typed.Workload}, {typed.Keys} keys, {typed.Threads} thread(s)): {ratio:P1} of the fast path's steps/s ({rule}; fastest {typed.StepsPerSecond:N0} vs {stream.StepsPerSecond:N0}{cpu}{rows}): {bound}; {typed.AllocatedBytesPerStep:F0} vs {stream.AllocatedBytesPerStep:F0} B/step allocated.");
        }

        foreach (var floor in Rows.Where(r => r.Engine == Engines.TypedFloor))
        {
            if (Find(floor, Engines.Stream) is not { } stream) continue;
            s.AppendLine(CultureInfo.InvariantCulture,
                $"typed API's floor ({Engines.TypedFloor} ÷ {Engines.Stream}, {floor.Workload}, {floor.Keys} keys, {floor.Threads} thread(s)): the caller's graph alone, no model, at {floor.StepsPerSecond / stream.StepsPerSecond:P1} of the fast path's steps/s ({floor.StepsPerSecond:N0} vs {stream.StepsPerSecond:N0}).");
        }

        foreach (var stored in Rows.Where(r => r.Engine == Engines.StreamStore))
        {
            if (Find(stored, Engines.Stream) is not { } stream) continue;
            s.AppendLine(CultureInfo.InvariantCulture,
                $"session store bookkeeping ({Engines.StreamStore} ÷ {Engines.Stream}, {stored.Workload}, {stored.Keys} keys, {stored.Threads} thread(s)): {stored.StepsPerSecond / stream.StepsPerSecond:P1} of the steps/s without a store ({stored.StepsPerSecond:N0} vs {stream.StepsPerSecond:N0}).");
        }

        foreach (var run in Runs)
        {
            s.AppendLine(CultureInfo.InvariantCulture,
                $"run (NDJSON through NdjsonRunner, {run.Lines:N0} lines, {run.Keys} keys round robin, output discarded): {run.Workload} {run.LinesPerSecond:N0} lines/s, {run.AllocatedBytesPerLine:F0} B/line allocated (also in the table as {Engines.Run}).");
        }

        foreach (var t in Tcp)
        {
            s.AppendLine(CultureInfo.InvariantCulture,
                $"tcp (serve's TCP channel over loopback, one connection, {t.Records:N0} records of {t.Keys} keys round robin per repetition, median of {t.PlainSamples.Count}): {t.Workload} plaintext {t.PlainRecordsPerSecond:N0} records/s, TLS ({t.TlsCipher}) {t.TlsRecordsPerSecond:N0} records/s: TLS at {t.TlsShare:P1} of plaintext (target ≥ 90 %; also in the table as {Engines.Tcp} and {Engines.TcpTls}).");
        }

        foreach (var m in Memory)
        {
            var verdict = m.BytesPerKey <= m.TargetBytes ? "within" : "ABOVE";
            var note = m.LiveKeys == 1_000_000 ? "" : " (the target is stated for 1,000,000 live keys; state arenas grow by doubling, so other counts carry up to 2× slack)";
            s.AppendLine(CultureInfo.InvariantCulture,
                $"memory per live key ({m.Workload}, {m.LiveKeys:N0} live keys): {m.BytesPerKey:F0} B/key; raw state {m.RawStateBytes} B; target 1.3 × raw + 100 = {m.TargetBytes:F0} B: {verdict} target ({m.BytesPerKey / m.RawStateBytes:F3} × raw){note}.");
        }

        foreach (var store in Stores)
        {
            s.AppendLine(CultureInfo.InvariantCulture,
                $"session store ({store.Store}, {store.Workload} state, {store.Keys:N0} keys in 256 buckets, {store.Bytes / 1e6:F0} MB): checkpoint bucket by bucket {store.CheckpointKeysPerSecond:N0} keys/s, {store.CheckpointMegabytesPerSecond:F0} MB/s (up to {LstmStream.Actors.Persistence.CheckpointCoordinatorActor.WritesInFlight} writes in flight, as the coordinator: {store.OverlappedCheckpointKeysPerSecond:N0} keys/s); restore of one key after a restart {store.RestoreOneKeyMilliseconds:F1} ms; bulk restore {store.BulkRestoreKeysPerSecond:N0} keys/s.");
        }

        foreach (var c in Checkpointed)
        {
            s.AppendLine(CultureInfo.InvariantCulture,
                $"stream with checkpoints ({c.Store}, {c.Workload}, {c.Keys:N0} live keys, {c.BatchRows}-row batches, every {c.IntervalSeconds:0} s, {c.Seconds:0} s timed): {c.StepsPerSecondWith:N0} steps/s vs {c.StepsPerSecondWithout:N0} without a store = {c.Ratio:F3}× " +
                $"(target ≥ {c.RatioTarget:0.##}×: {c.Verdict}); {c.Checkpoints} checkpoint(s) wrote {c.KeysCheckpointed:N0} keys, {c.BytesWritten / 1e6:F0} MB{CheckpointTimes(c.CheckpointSeconds)}; " +
                $"heap per live key while running (batches in flight, arenas grown by doubling) {c.BytesPerKeyWith:F0} B with the store vs {c.BytesPerKeyWithout:F0} B without; " +
                $"CPU {c.With.CpuMicrosecondsPerStep:F2} vs {c.Without.CpuMicrosecondsPerStep:F2} µs/step, {c.ExtraCpuMillisecondsPerCheckpoint:F0} ms more CPU, {c.ExtraAllocatedMegabytesPerCheckpoint:F0} MB more allocated, {c.ExtraGcPauseMillisecondsPerCheckpoint:F0} ms more GC pause per checkpoint; " +
                $"{c.With.RowsPerBatch:F0} vs {c.Without.RowsPerBatch:F0} rows per multiply; GC gen0/1/2 {c.With.Gen0Collections}/{c.With.Gen1Collections}/{c.With.Gen2Collections} vs {c.Without.Gen0Collections}/{c.Without.Gen1Collections}/{c.Without.Gen2Collections} (paused {c.With.GcPauseSeconds * 1e3:F0} vs {c.Without.GcPauseSeconds * 1e3:F0} ms), JIT {c.With.JitSeconds * 1e3:F0} vs {c.Without.JitSeconds * 1e3:F0} ms.");
        }

        static string CheckpointTimes(double[] seconds) =>
            seconds.Length == 0 ? "" : $", taking {string.Join(" and ", seconds.Select(t => t.ToString("F1", CultureInfo.InvariantCulture)))} s";

        foreach (var m in StoreMemory)
        {
            s.AppendLine(CultureInfo.InvariantCulture,
                $"memory per live key with the store ({m.Store}, {m.Workload}, {m.LiveKeys:N0} live keys = MaxLiveKeys, idle after a checkpoint wrote all {m.KeysCheckpointed:N0}): {m.BytesPerKeyWith:F0} B/key " +
                $"vs {m.BytesPerKeyWithout:F0} B/key without a store; raw state {m.RawStateBytes} B; target 1.3 × raw + 100 = {m.TargetBytes:F0} B: {(m.Met ? "met" : "NOT MET")} ({m.BytesPerKeyWith / m.RawStateBytes:F3} × raw).");
        }

        s.AppendLine(Failures.Count == 0
            ? $"validation: every engine agreed with the reference (StackedLstm) within {Agreement.Tolerance:G} after 3 rounds from zero state."
            : $"VALIDATION FAILED ({Failures.Count}): {string.Join(" | ", Failures)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"load average at end: {Machine.LoadAverageEnd}");
        return s.ToString();
    }

    public void WriteJson(string path)
    {
        var document = new Document(Machine, new Settings(Options.Quick, Options.Measure.WarmUp.TotalMilliseconds, Options.Measure.Repetition.TotalMilliseconds, Options.Measure.Repetitions),
            Rows, Runs.Select(r => new RunEntry(r.Workload, r.Lines, r.Keys, r.Backend, r.LinesPerSecond, r.AllocatedBytesPerLine, r.Samples)).ToList(),
            Memory.Select(m => new MemoryEntry(m.Workload, m.LiveKeys, m.BytesPerKey, m.RawStateBytes, m.TargetBytes, m.BytesPerKey <= m.TargetBytes)).ToList(),
            Stores, Checkpointed, StoreMemory, Failures, CeilingMatrices,
            Tcp.Select(t => new TcpEntry(t.Workload, t.Records, t.Keys, t.PlainRecordsPerSecond, t.TlsRecordsPerSecond, t.TlsShare, t.TlsCipher, t.PlainSamples, t.TlsSamples)).ToList());
        var json = JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        // The latency and cluster sections written by earlier --latency / --cluster runs stay (each names its own machine and time).
        var earlier = Latency.LatencyReport.ReadObject(path);
        var kept = new[] { Latency.LatencyReport.JsonKey, Cluster.ClusterReport.JsonKey }.Where(key => earlier?[key] is not null).ToList();
        if (kept.Count > 0)
        {
            var merged = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
            foreach (var key in kept) merged[key] = earlier![key]!.DeepClone();
            json = merged.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }

        File.WriteAllText(path, json + "\n");
    }

    private static int EngineOrder(string engine) => engine switch
    {
        Engines.Ceiling => 0,
        Engines.Core => 1,
        Engines.Stream => 2,
        Engines.StreamStore => 2,
        Engines.Typed => 3,
        Engines.TypedFloor => 3,
        Engines.Run => 4,
        Engines.Tcp => 5,
        Engines.TcpTls => 6,
        Engines.OrtBatched => 7,
        Engines.OrtPerKey => 8,
        _ => 8,
    };

    private static string Format(double? value, string format) =>
        value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "–";

    private sealed record Document(
        [property: JsonPropertyName("machine")] MachineInfo Machine,
        [property: JsonPropertyName("settings")] Settings Settings,
        [property: JsonPropertyName("rows")] List<ResultRow> Rows,
        [property: JsonPropertyName("run_throughput")] List<RunEntry> RunThroughput,
        [property: JsonPropertyName("memory_per_key")] List<MemoryEntry> MemoryPerKey,
        [property: JsonPropertyName("session_store")] List<SessionStoreSpeed.Result> SessionStore,
        [property: JsonPropertyName("checkpointed_stream")] List<CheckpointedStream.Result> CheckpointedStream,
        [property: JsonPropertyName("memory_per_key_with_store")] List<MemoryPerKey.WithStoreResult> MemoryPerKeyWithStore,
        [property: JsonPropertyName("validation_failures")] List<string> ValidationFailures,
        [property: JsonPropertyName("ceiling_matrices")] List<CeilingMatrix> CeilingMatrices,
        [property: JsonPropertyName("tcp_throughput")] List<TcpEntry> TcpThroughput);

    private sealed record TcpEntry(
        [property: JsonPropertyName("workload")] string Workload,
        [property: JsonPropertyName("records")] long Records,
        [property: JsonPropertyName("keys")] int Keys,
        [property: JsonPropertyName("plaintext_records_per_s")] double Plaintext,
        [property: JsonPropertyName("tls_records_per_s")] double Tls,
        [property: JsonPropertyName("tls_share_of_plaintext")] double TlsShare,
        [property: JsonPropertyName("tls_cipher")] string TlsCipher,
        [property: JsonPropertyName("samples_plaintext_records_per_s")] IReadOnlyList<double> PlainSamples,
        [property: JsonPropertyName("samples_tls_records_per_s")] IReadOnlyList<double> TlsSamples);

    private sealed record Settings(
        [property: JsonPropertyName("quick")] bool Quick,
        [property: JsonPropertyName("warm_up_ms")] double WarmUpMs,
        [property: JsonPropertyName("repetition_ms")] double RepetitionMs,
        [property: JsonPropertyName("repetitions")] int Repetitions);

    private sealed record RunEntry(
        [property: JsonPropertyName("workload")] string Workload,
        [property: JsonPropertyName("lines")] long Lines,
        [property: JsonPropertyName("keys")] int Keys,
        [property: JsonPropertyName("backend")] string Backend,
        [property: JsonPropertyName("lines_per_s")] double LinesPerSecond,
        [property: JsonPropertyName("alloc_bytes_per_line")] double AllocatedBytesPerLine,
        [property: JsonPropertyName("samples_lines_per_s")] IReadOnlyList<double> Samples);

    private sealed record MemoryEntry(
        [property: JsonPropertyName("workload")] string Workload,
        [property: JsonPropertyName("live_keys")] int LiveKeys,
        [property: JsonPropertyName("bytes_per_key")] double BytesPerKey,
        [property: JsonPropertyName("raw_state_bytes")] long RawStateBytes,
        [property: JsonPropertyName("target_bytes")] double TargetBytes,
        [property: JsonPropertyName("within_target")] bool WithinTarget);
}
