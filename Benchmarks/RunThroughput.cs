using System.Diagnostics;
using Akka;
using Akka.Streams;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// The <c>run</c> verb's path, timed: an NDJSON file through <see cref="NdjsonRunner"/> (parse, the
/// streaming pipeline with the run verb's batching, format) to a discarded output. Untimed warm-up runs over a
/// short file for at least <see cref="WarmUp"/>, then repetitions over the full file; the median counts.
/// </summary>
internal static class RunThroughput
{
    /// <summary>The shortest warm-up, repeating the short file.</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(4);

    public sealed record Result(string Workload, long Lines, int Keys, string Backend, double LinesPerSecond, double AllocatedBytesPerLine, IReadOnlyList<double> Samples);

    public static Result Measure(Workload workload, long lines, int repetitions, string tempPrefix, IMaterializer materializer)
    {
        var model = workload.Model;
        var directory = Path.GetDirectoryName(tempPrefix) is { Length: > 0 } d ? d : ".";
        var prefix = Path.GetFileName(tempPrefix);
        var warmPath = NdjsonInputFile.Ensure(directory, prefix, model.InputSize, Math.Min(lines, 100_000));
        var path = NdjsonInputFile.Ensure(directory, prefix, model.InputSize, lines);

        // The run verb's batching (1024 rows, on demand); the engine's automatic backend choice, one thread.
        var backends = MatMulBackendRegistry.CreateForModel(MatMulBackendRegistry.Auto, 1, model);
        var all = backends.Layers.Concat(backends.Head is null ? [] : [backends.Head]).ToList();
        var options = new PipelineOptions { MaxBatchRows = 1024 };
        var runner = new NdjsonRunner(model.InputSize);

        long Once(string file)
        {
            var next = 0;
            var flow = LstmPipeline.Create(model, () => all[next++], options).MapMaterializedValue(_ => NotUsed.Instance);
            using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var summary = runner.RunAsync(input, Stream.Null, TextWriter.Null, flow, materializer).GetAwaiter().GetResult();
            if (summary.RecordsRejected != 0 || summary.RecordsOut != summary.RecordsParsed)
                throw new InvalidOperationException($"NDJSON run over {file}: {summary.RecordsRejected} lines rejected, {summary.RecordsOut} of {summary.RecordsParsed} records written");
            return summary.RecordsOut;
        }

        // Warm up for a while, not for a number of lines: the tiered JIT compiles the hot paths of parsing and
        // formatting only after they have run for some time (on a busy 2-core machine about 2-3 s of runs here),
        // and the short file is through in a few tens of milliseconds.
        var warmUp = Stopwatch.StartNew();
        do Once(warmPath);
        while (warmUp.Elapsed < WarmUp);

        var samples = new List<double>();
        long allocated = 0, processed = 0;
        for (var r = 0; r < repetitions; r++)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            var records = Once(path);
            var seconds = clock.Elapsed.TotalSeconds;
            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
            processed += records;
            if (records != lines) throw new InvalidOperationException($"NDJSON run over {path} wrote {records} records, the file has {lines} lines");
            samples.Add(records / seconds);
        }

        var sorted = samples.Order().ToList();
        var backend = string.Join("; ", backends.Choices);
        return new Result(workload.Name, lines, NdjsonInputFile.Keys, backend, sorted[sorted.Count / 2], (double)allocated / processed, samples);
    }
}
