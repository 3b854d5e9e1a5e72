using System.Collections.Concurrent;
using System.Text;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Records;

public sealed class NdjsonSourceStageTests : Akka.TestKit.Xunit2.TestKit
{
    private const int InputSize = 2;
    private readonly IMaterializer _materializer;
    private readonly ConcurrentQueue<RecordError> _errors = new();

    // Generous expectation timeouts: the tests share a small, busy machine.
    public NdjsonSourceStageTests() : base("akka.test.single-expect-default = 20s") => _materializer = Sys.Materializer();

    private NdjsonSourceStage Stage(Stream input, int chunkBytes, int maxRows) => new(input, InputSize, chunkBytes, maxRows, _errors.Enqueue);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private async Task<(List<StepBatch> Batches, NdjsonParseSummary Summary)> ReadAll(Stream input, int chunkBytes, int maxRows)
    {
        var (summary, batches) = Source.FromGraph(Stage(input, chunkBytes, maxRows))
            .ToMaterialized(Sink.Seq<StepBatch>(), Keep.Both)
            .Run(_materializer);
        var all = (await batches).ToList();
        return (all, await summary);
    }

    [Theory]
    [InlineData(1, 4)]
    [InlineData(7, 4)]
    [InlineData(37, 3)]
    [InlineData(64, 1024)]
    [InlineData(4096, 5)]
    public async Task Lines_straddling_reads_become_batches_in_line_order(int chunkBytes, int maxRows)
    {
        // Lines of different lengths (multi-byte keys, CRLF and LF), so line ends fall at every offset of a read.
        var lines = Enumerable.Range(0, 120).Select(i => i % 10 == 3
            ? "{\"key\":\"bad\",\"x\":[1]}"
            : $$"""{"key":"{{(i % 3 == 0 ? "ключ" : "k")}}{{i % 4}}","seq":{{i}},"x":[{{i}}.25,{{-i}}]}""").ToList();
        var text = string.Concat(lines.Select((l, i) => l + (i % 2 == 0 ? "\r\n" : "\n")));
        // The stream hands out at most 'chunkBytes' per read, fewer every third read.
        var input = new ChunkedStream(Bytes(text), chunkBytes);

        var (batches, summary) = await ReadAll(input, chunkBytes, maxRows);

        var valid = Enumerable.Range(0, 120).Where(i => i % 10 != 3).ToList();
        Assert.Equal(
            valid.Select(i => new ParsedRow($"{(i % 3 == 0 ? "ключ" : "k")}{i % 4}", i, StepFlags.HasSeq, i + 1, [i + 0.25f, -i])),
            batches.SelectMany(ParsedRow.AllOf));
        Assert.All(batches, b => Assert.InRange(b.Count, 1, maxRows));
        Assert.Equal(Enumerable.Range(0, 12).Select(k => k * 10L + 4), _errors.Select(e => e.Line));
        Assert.All(_errors, e => Assert.Equal(("bad", "x"), (e.Key, e.Field)));
        Assert.Equal(new NdjsonParseSummary(120, 0, 108, 12), summary);
        Assert.True(input.CanRead, "the input stream stays open");
    }

    [Fact]
    public async Task Reads_only_on_demand_and_finishes_the_last_line_at_the_end_of_the_input()
    {
        var input = new FedStream();
        var (summary, subscriber) = Source.FromGraph(Stage(input, chunkBytes: 1024, maxRows: 1))
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);

        input.Feed("{\"key\":\"a\",\"x\":[1,2]}\n{\"key\":\"b\",\"x\":[3,4]}\n{\"key\":\"c\",\"x\":[5,");
        subscriber.Request(1);
        Assert.Equal("a", subscriber.ExpectNext().Keys[0]);

        // "b" was decoded by the same read: no new read for it. A read without demand would have found nothing fed
        // and held the stage in it (reads are synchronous on the stage's thread), so "b" could not have come.
        subscriber.Request(1);
        Assert.Equal("b", subscriber.ExpectNext().Keys[0]);
        Assert.Equal(1, input.Reads);

        // "c" is not a whole line yet: the stage reads on and waits in its read, emitting nothing. Whatever it had
        // emitted before a read would already be with the subscriber when that read is counted.
        subscriber.Request(5);
        await AwaitAssertAsync(() => Assert.Equal(2, input.Reads), TimeSpan.FromSeconds(10));
        subscriber.ExpectNoMsg(TimeSpan.Zero);
        input.Feed("6]}");
        await AwaitAssertAsync(() => Assert.Equal(3, input.Reads), TimeSpan.FromSeconds(10));
        subscriber.ExpectNoMsg(TimeSpan.Zero);
        input.End();

        var last = subscriber.ExpectNext();
        Assert.Equal(new ParsedRow("c", 0, StepFlags.None, 3, [5, 6]), ParsedRow.Of(last, 0));
        subscriber.ExpectComplete();
        Assert.Equal(new NdjsonParseSummary(3, 0, 3, 0), await summary.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_failing_read_fails_the_stream_and_the_summary()
    {
        var input = new FedStream();
        var (summary, subscriber) = Source.FromGraph(Stage(input, chunkBytes: 1024, maxRows: 8))
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);

        subscriber.Request(10);
        input.Feed("{\"key\":\"a\",\"x\":[1,2]}\n");
        subscriber.ExpectNext();
        var failure = new IOException("disk gone");
        input.Fail(failure);

        Assert.Same(failure, subscriber.ExpectError());
        Assert.Same(failure, await Assert.ThrowsAsync<IOException>(() => summary.WaitAsync(TimeSpan.FromSeconds(5))));
    }

    [Fact]
    public async Task Bad_and_blank_lines_never_stop_the_stream()
    {
        var lines = Enumerable.Range(0, 200).Select(i => (i % 4) switch { 0 => "{oops", 2 => "  ", _ => $$"""{"key":"k","seq":{{i}},"x":[0,0]}""" });
        var (batches, summary) = await ReadAll(new MemoryStream(Bytes(string.Join("\n", lines))), chunkBytes: 100, maxRows: 16);

        Assert.Equal(Enumerable.Range(0, 200).Where(i => i % 2 == 1).Select(i => (long)i), batches.SelectMany(ParsedRow.AllOf).Select(r => r.Seq));
        Assert.Equal(50, _errors.Count);
        Assert.Equal(new NdjsonParseSummary(200, 50, 100, 50), summary);
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Stage(new MemoryStream(), chunkBytes: 0, maxRows: 1));
        Assert.Throws<ArgumentException>(() => Stage(new UnreadableStream(), chunkBytes: 16, maxRows: 1));
    }

    /// <summary>A readable stream over fixed bytes that returns at most a chunk per read, and a shorter one every third read.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : ReadOnlyTestStream
    {
        private int _at;
        private int _reads;

        public override int Read(byte[] buffer, int offset, int count)
        {
            int max = ++_reads % 3 == 0 ? Math.Max(1, chunk / 2) : chunk;
            int n = Math.Min(Math.Min(count, max), data.Length - _at);
            data.AsSpan(_at, n).CopyTo(buffer.AsSpan(offset));
            _at += n;
            return n;
        }
    }

    /// <summary>A stream whose reads block until the test feeds text, ends the input or makes the read fail.</summary>
    private sealed class FedStream : ReadOnlyTestStream
    {
        private readonly BlockingCollection<object> _pieces = new();
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public void Feed(string text) => _pieces.Add(Encoding.UTF8.GetBytes(text));
        public void End() => _pieces.Add(Array.Empty<byte>());
        public void Fail(Exception failure) => _pieces.Add(failure);

        public override int Read(byte[] buffer, int offset, int count)
        {
            Interlocked.Increment(ref _reads);
            var piece = _pieces.Take();
            if (piece is Exception failure) throw failure;
            var bytes = (byte[])piece;
            if (bytes.Length > count) throw new InvalidOperationException("the test fed more than one read takes");
            bytes.CopyTo(buffer, offset);
            return bytes.Length;
        }
    }

    private sealed class UnreadableStream : WriteOnlyTestStream
    {
        public override void Write(byte[] buffer, int offset, int count) { }
    }
}
