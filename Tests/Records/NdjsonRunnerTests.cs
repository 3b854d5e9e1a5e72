using System.Buffers;
using System.Text;
using System.Text.Json;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Records;

public sealed class NdjsonRunnerTests : Akka.TestKit.Xunit2.TestKit
{
    private const int InputSize = 3;
    private const int OutputSize = 3;

    private readonly IMaterializer _materializer;

    // Generous expectation timeouts: the tests share a small, busy machine.
    public NdjsonRunnerTests() : base("akka.test.single-expect-default = 20s") => _materializer = Sys.Materializer();

    /// <summary>What the stand-in model computes for one row: a new width, from the vector and the line number.</summary>
    private static void Model(ReadOnlySpan<float> x, long line, Span<float> y)
    {
        y[0] = x[0] * x[1] + x[2];
        y[1] = MathF.Tanh(x[0] - x[2]);
        y[2] = line;
    }

    /// <summary>A model flow as the real one behaves: every row out, in order, with a vector of a new width.</summary>
    private static Flow<StepBatch, StepBatch, NotUsed> ModelFlow() => Flow.Create<StepBatch>().Select(batch =>
    {
        var output = ArrayPool<float>.Shared.Rent(batch.Count * OutputSize);
        for (var r = 0; r < batch.Count; r++)
            Model(batch.Row(r), batch.Tags[r], output.AsSpan(r * OutputSize, OutputSize));
        batch.ReplaceData(output, OutputSize);
        return batch;
    });

    private sealed record Expected(List<(string Key, long? Seq, float[] Y)> Outputs, List<(long Line, string? Field)> Errors, long Lines);

    /// <summary>Random records of many keys (seq counting per key) with blank lines and bad lines of every kind mixed in.</summary>
    private static (byte[] Input, Expected Expected) Generate(int lines, int keys, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder();
        var outputs = new List<(string, long?, float[])>();
        var errors = new List<(long, string?)>();
        var nextSeq = new long[keys];
        string[] badLines =
        [
            "not json at all", "{\"key\":\"k1\",\"x\":[1,2]}", "{\"x\":[1,2,3]}", "{\"key\":\"k2\",\"x\":[1,\"2\",3]}",
            "{\"key\":\"k3\",\"x\":[1,2,1e999]}", "{\"key\":\"k4\",\"seq\":1.5,\"x\":[1,2,3]}", "{\"key\":\"k5\",\"x\":[1,2,3]} tail",
            "{\"key\":\"k6\",\"x\":[1,2,3],\"end\":\"yes\"}", "{\"key\":\"\",\"x\":[1,2,3]}", "[1,2,3]",
        ];
        string?[] badFields = [null, "x", "key", "x", "x", "seq", null, "end", "key", null];

        for (long line = 1; line <= lines; line++)
        {
            var eol = random.Next(4) == 0 ? "\r\n" : "\n";
            int kind = random.Next(100);
            if (kind < 3)
            {
                text.Append(random.Next(2) == 0 ? "" : "  \t").Append(eol);
                continue;
            }

            if (kind < 12)
            {
                int bad = random.Next(badLines.Length);
                text.Append(badLines[bad]).Append(eol);
                errors.Add((line, badFields[bad]));
                continue;
            }

            int k = random.Next(keys);
            var key = k % 7 == 0 ? $"sensor \"{k}\" é" : $"sensor-{k}";
            var x = Enumerable.Range(0, InputSize).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
            bool withSeq = random.Next(5) != 0;
            long seq = nextSeq[k]++;
            var record = new Dictionary<string, object> { ["key"] = key, ["x"] = x };
            if (withSeq) record["seq"] = seq;
            if (random.Next(10) == 0) record["reset"] = true;
            if (random.Next(10) == 0) record["end"] = true;
            if (random.Next(10) == 0) record["note"] = new { any = new[] { 1, 2 } };
            text.Append(JsonSerializer.Serialize(record)).Append(line == lines ? "" : eol);

            var y = new float[OutputSize];
            Model(x, line, y);
            outputs.Add((key, withSeq ? seq : null, y));
        }

        return (Encoding.UTF8.GetBytes(text.ToString()), new Expected(outputs, errors, lines));
    }

    private static List<(string Key, long? Seq, float[] Y)> ReadOutputs(byte[] output) =>
        Encoding.UTF8.GetString(output).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            Assert.Equal(root.TryGetProperty("seq", out _) ? 3 : 2, root.EnumerateObject().Count());
            return (root.GetProperty("key").GetString()!,
                root.TryGetProperty("seq", out var seq) ? seq.GetInt64() : (long?)null,
                root.GetProperty("y").EnumerateArray().Select(e => e.GetSingle()).ToArray());
        }).ToList();

    private static List<(long Line, string? Field)> ReadErrors(string errors) =>
        errors.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            Assert.False(string.IsNullOrEmpty(root.GetProperty("error").GetString()));
            return (root.GetProperty("line").GetInt64(), root.TryGetProperty("field", out var f) ? f.GetString() : null);
        }).ToList();

    private static void AssertSameOutputs(List<(string Key, long? Seq, float[] Y)> expected, List<(string Key, long? Seq, float[] Y)> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Key, actual[i].Key);
            Assert.Equal(expected[i].Seq, actual[i].Seq);
            Assert.Equal(expected[i].Y.Select(BitConverter.SingleToInt32Bits), actual[i].Y.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Theory]
    [InlineData(97, 7)]
    [InlineData(4096, 256)]
    [InlineData(1, 1)]
    public async Task Every_valid_line_is_processed_in_order_and_every_bad_line_reported(int chunkBytes, int maxRows)
    {
        var (input, expected) = Generate(lines: chunkBytes == 1 ? 300 : 3000, keys: 40, seed: chunkBytes);
        using var output = new MemoryStream();
        using var errors = new StringWriter();
        var runner = new NdjsonRunner(InputSize, new NdjsonRunnerOptions { ChunkBytes = chunkBytes, MaxRowsPerBatch = maxRows });

        var summary = await runner.RunAsync(new MemoryStream(input), output, errors, ModelFlow(), _materializer);

        AssertSameOutputs(expected.Outputs, ReadOutputs(output.ToArray()));
        Assert.Equal(expected.Errors, ReadErrors(errors.ToString()));
        Assert.Equal(new NdjsonRunSummary(expected.Lines, expected.Outputs.Count, expected.Errors.Count, expected.Outputs.Count), summary);
        Assert.True(summary.AnyRejected);
    }

    [Fact]
    public async Task Clean_input_rejects_nothing_and_leaves_the_streams_open()
    {
        var input = new MemoryStream("{\"key\":\"a\",\"seq\":0,\"x\":[1,2,3]}\n{\"key\":\"b\",\"x\":[0,0,0]}\n"u8.ToArray());
        var output = new MemoryStream();
        var errors = new StringWriter();

        var summary = await new NdjsonRunner(InputSize).RunAsync(input, output, errors, ModelFlow(), Sys);

        Assert.Equal(new NdjsonRunSummary(2, 2, 0, 2), summary);
        Assert.False(summary.AnyRejected);
        Assert.Equal("", errors.ToString());
        Assert.True(output.CanWrite);
        Assert.True(input.CanRead);
        Assert.Equal(
            "{\"key\":\"a\",\"seq\":0,\"y\":[5,-0.9640276,1]}\n{\"key\":\"b\",\"y\":[0,0,2]}\n",
            Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public async Task Empty_input_gives_empty_output()
    {
        var output = new MemoryStream();
        var summary = await new NdjsonRunner(InputSize).RunAsync(new MemoryStream(), output, new StringWriter(), ModelFlow(), _materializer);
        Assert.Equal(new NdjsonRunSummary(0, 0, 0, 0), summary);
        Assert.Equal(0, output.Length);
    }

    [Fact]
    public async Task A_failing_model_fails_the_run()
    {
        var failing = Flow.Create<StepBatch>().Select(batch =>
            batch.Keys.Take(batch.Count).Contains("poison") ? throw new InvalidOperationException("model broke on poison") : batch);
        var input = new MemoryStream("{\"key\":\"a\",\"x\":[1,2,3]}\n{\"key\":\"poison\",\"x\":[1,2,3]}\n"u8.ToArray());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            new NdjsonRunner(InputSize, new NdjsonRunnerOptions { MaxRowsPerBatch = 1 })
                .RunAsync(input, new MemoryStream(), new StringWriter(), failing, _materializer));
        Assert.Equal("model broke on poison", error.Message);
    }

    [Fact]
    public async Task A_slow_writer_slows_the_reader()
    {
        const int lines = 20_000;
        var input = new GeneratedInput(lines);
        var output = new SlowOutput(input);
        var options = new NdjsonRunnerOptions { ChunkBytes = 512, MaxRowsPerBatch = 64 };

        var summary = await new NdjsonRunner(InputSize, options).RunAsync(input, output, new StringWriter(), ModelFlow(), _materializer);

        Assert.Equal(lines, summary.RecordsOut);
        Assert.Equal(lines, output.LinesWritten);
        // Buffers between the stages hold a few thousand lines at most; without backpressure the reader
        // would have read the whole input while the writer was still at the start.
        Assert.InRange(output.MaxLinesAhead, 1, lines / 4);
    }

    [Fact]
    public async Task Cancellation_stops_an_endless_input()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var input = new GeneratedInput(long.MaxValue);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new NdjsonRunner(InputSize).RunAsync(input, Stream.Null, new StringWriter(), ModelFlow(), _materializer, cancel.Token));
        Assert.True(input.LinesServed > 0);
    }

    [Fact]
    public void Bad_options_are_refused_by_name()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new NdjsonRunner(InputSize, new NdjsonRunnerOptions { MaxRowsPerBatch = 0 }));
        Assert.Equal("MaxRowsPerBatch", error.ParamName);
    }

    /// <summary>An input stream that makes up valid lines as they are read and counts them.</summary>
    private sealed class GeneratedInput(long lines) : ReadOnlyTestStream
    {
        private byte[] _pending = [];
        private int _offset;
        private long _served;

        public long LinesServed => Interlocked.Read(ref _served);

        public override int Read(byte[] buffer, int offset, int count)
        {
            int total = 0;
            while (total < count)
            {
                if (_offset == _pending.Length)
                {
                    if (_served == lines) break;
                    _pending = Encoding.UTF8.GetBytes($$"""{"key":"k{{_served % 100}}","seq":{{_served}},"x":[1,2,3]}""" + "\n");
                    _offset = 0;
                    Interlocked.Increment(ref _served);
                }

                int n = Math.Min(count - total, _pending.Length - _offset);
                _pending.AsSpan(_offset, n).CopyTo(buffer.AsSpan(offset + total));
                _offset += n;
                total += n;
            }

            return total;
        }
    }

    /// <summary>An output stream that takes a millisecond per write and records how far the reader ran ahead.</summary>
    private sealed class SlowOutput(GeneratedInput input) : WriteOnlyTestStream
    {
        public long LinesWritten { get; private set; }
        public long MaxLinesAhead { get; private set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            MaxLinesAhead = Math.Max(MaxLinesAhead, input.LinesServed - LinesWritten);
            Thread.Sleep(1);
            LinesWritten += buffer.AsSpan(offset, count).Count((byte)'\n');
        }
    }
}
