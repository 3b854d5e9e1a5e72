using System.Collections.Concurrent;
using System.Text;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Records;

public sealed class NdjsonParseStageTests : Akka.TestKit.Xunit2.TestKit
{
    private const int InputSize = 2;
    private readonly IMaterializer _materializer;
    private readonly ConcurrentQueue<RecordError> _errors = new();

    // Generous expectation timeouts: the tests share a small, busy machine.
    public NdjsonParseStageTests() : base("akka.test.single-expect-default = 20s") => _materializer = Sys.Materializer();

    private NdjsonParseStage Stage(int maxRows) => new(InputSize, maxRows, _errors.Enqueue);

    private static ByteString Bytes(string text) => ByteString.FromBytes(Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task Chunks_split_mid_line_become_batches_in_line_order()
    {
        var text = string.Concat(Enumerable.Range(0, 50).Select(i =>
            i % 10 == 3 ? "{\"key\":\"bad\",\"x\":[1]}\r\n" : $$"""{"key":"k{{i % 4}}","seq":{{i}},"x":[{{i}},{{-i}}]}""" + "\r\n"));
        var bytes = Encoding.UTF8.GetBytes(text);
        var chunks = Enumerable.Range(0, (bytes.Length + 36) / 37)
            .Select(c => ByteString.CopyFrom(bytes, c * 37, Math.Min(37, bytes.Length - c * 37)));

        var (summaryTask, batchesTask) = Source.From(chunks)
            .ViaMaterialized(Stage(maxRows: 4), Keep.Right)
            .ToMaterialized(Sink.Seq<StepBatch>(), Keep.Both)
            .Run(_materializer);
        var batches = await batchesTask;
        var summary = await summaryTask;

        var rows = batches.SelectMany(ParsedRow.AllOf).ToList();
        var valid = Enumerable.Range(0, 50).Where(i => i % 10 != 3).ToList();
        Assert.Equal(valid.Select(i => new ParsedRow($"k{i % 4}", i, StepFlags.HasSeq, i + 1, [i, -i])), rows);
        Assert.All(batches, b => Assert.InRange(b.Count, 1, 4));
        Assert.Equal([4L, 14, 24, 34, 44], _errors.Select(e => e.Line));
        Assert.All(_errors, e => Assert.Equal(("bad", "x"), (e.Key, e.Field)));
        Assert.Equal(new NdjsonParseSummary(50, 0, 45, 5), summary);
    }

    [Fact]
    public async Task Emits_only_on_demand_and_finishes_the_last_line_at_completion()
    {
        var ((publisher, summary), subscriber) = this.SourceProbe<ByteString>()
            .ViaMaterialized(Stage(maxRows: 1), Keep.Both)
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);

        subscriber.Request(1);
        publisher.SendNext(Bytes("{\"key\":\"a\",\"x\":[1,2]}\n{\"key\":\"b\",\"x\":[3,4]}\n{\"key\":\"c\",\"x\":[5,"));
        Assert.Equal("a", subscriber.ExpectNext().Keys[0]);
        subscriber.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        subscriber.Request(1);
        Assert.Equal("b", subscriber.ExpectNext().Keys[0]);

        subscriber.Request(5);
        subscriber.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        publisher.SendNext(Bytes("6]}"));
        subscriber.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        publisher.SendComplete();

        var last = subscriber.ExpectNext();
        Assert.Equal(new ParsedRow("c", 0, StepFlags.None, 3, [5, 6]), ParsedRow.Of(last, 0));
        subscriber.ExpectComplete();
        Assert.Equal(new NdjsonParseSummary(3, 0, 3, 0), await summary.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Upstream_failure_fails_the_stream_and_the_summary()
    {
        var ((publisher, summary), subscriber) = this.SourceProbe<ByteString>()
            .ViaMaterialized(Stage(maxRows: 8), Keep.Both)
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);

        subscriber.Request(10);
        publisher.SendNext(Bytes("{\"key\":\"a\",\"x\":[1,2]}\n"));
        subscriber.ExpectNext();
        var failure = new IOException("disk gone");
        publisher.SendError(failure);

        Assert.Same(failure, subscriber.ExpectError());
        Assert.Same(failure, await Assert.ThrowsAsync<IOException>(() => summary.WaitAsync(TimeSpan.FromSeconds(5))));
    }

    [Fact]
    public async Task Bad_lines_never_stop_the_stream()
    {
        var lines = Enumerable.Range(0, 200).Select(i => i % 2 == 0 ? "{oops" : $$"""{"key":"k","seq":{{i}},"x":[0,0]}""");
        var batches = await Source.Single(Bytes(string.Join("\n", lines)))
            .Via(Stage(maxRows: 16))
            .RunWith(Sink.Seq<StepBatch>(), _materializer);

        Assert.Equal(Enumerable.Range(0, 200).Where(i => i % 2 == 1).Select(i => (long)i), batches.SelectMany(ParsedRow.AllOf).Select(r => r.Seq));
        Assert.Equal(100, _errors.Count);
    }
}
