using System.Text;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Records;

public sealed class NdjsonBatchDecoderTests
{
    private const int InputSize = 3;

    /// <summary>Valid, bad and blank lines, CRLF and LF endings, escaped and multi-byte keys, no final newline.</summary>
    private static readonly byte[] Mixed = Encoding.UTF8.GetBytes(
        "{\"key\":\"a\",\"seq\":0,\"x\":[1,2,3]}\n" +
        "{\"key\":\"b\",\"x\":[0.5,-0.25,1e-3],\"reset\":true}\r\n" +
        "\n" +
        "this is not json\n" +
        "{\"key\":\"K\\u00f6ln-\\\"q\\\"\",\"seq\":7,\"x\":[4,5,6],\"end\":true}\r\n" +
        "   \r\n" +
        "{\"key\":\"東京\",\"x\":[1,2]}\n" +
        "{\"key\":\"a\",\"seq\":1,\"x\":[7,8,9]}");

    private sealed class Collector
    {
        public readonly List<StepBatch> Batches = [];
        public readonly List<RecordError> Errors = [];

        public NdjsonBatchDecoder Decoder(int maxRows = 16, int maxLineBytes = NdjsonBatchDecoder.DefaultMaxLineBytes) =>
            new(new NdjsonRecordParser(InputSize), maxRows, Batches.Add, Errors.Add, maxLineBytes);

        public List<ParsedRow> Rows => Batches.SelectMany(ParsedRow.AllOf).ToList();
    }

    private static (List<ParsedRow> Rows, List<RecordError> Errors, NdjsonParseSummary Summary) DecodeInChunks(
        byte[] input, IEnumerable<int> cuts, int maxRows = 16, int maxLineBytes = NdjsonBatchDecoder.DefaultMaxLineBytes)
    {
        var sink = new Collector();
        using var decoder = sink.Decoder(maxRows, maxLineBytes);
        var at = 0;
        foreach (var cut in cuts.Append(input.Length))
        {
            decoder.Decode(input.AsSpan(at, cut - at));
            at = cut;
        }

        decoder.Complete();
        Assert.All(sink.Batches, b => Assert.InRange(b.Count, 1, maxRows));
        return (sink.Rows, sink.Errors, decoder.Summary);
    }

    [Fact]
    public void Whole_input_gives_each_valid_line_as_a_row_and_each_bad_line_as_an_error()
    {
        var (rows, errors, summary) = DecodeInChunks(Mixed, []);

        Assert.Equal(
            [
                new ParsedRow("a", 0, StepFlags.HasSeq, 1, [1, 2, 3]),
                new ParsedRow("b", 0, StepFlags.Reset, 2, [0.5f, -0.25f, 1e-3f]),
                new ParsedRow("Köln-\"q\"", 7, StepFlags.HasSeq | StepFlags.End, 5, [4, 5, 6]),
                new ParsedRow("a", 1, StepFlags.HasSeq, 8, [7, 8, 9]),
            ],
            rows);
        Assert.Equal(2, errors.Count);
        Assert.Equal((4L, (string?)null, (string?)null), (errors[0].Line, errors[0].Key, errors[0].Field));
        Assert.Equal((7L, "東京", "x"), (errors[1].Line, errors[1].Key, errors[1].Field));
        Assert.Equal(new NdjsonParseSummary(Lines: 8, BlankLines: 2, Records: 4, Rejected: 2), summary);
    }

    [Fact]
    public void Splitting_the_input_at_any_byte_gives_the_same_result()
    {
        var (rows, errors, summary) = DecodeInChunks(Mixed, []);
        for (var cut = 0; cut <= Mixed.Length; cut++)
        {
            var split = DecodeInChunks(Mixed, [cut]);
            Assert.Equal(rows, split.Rows);
            Assert.Equal(errors, split.Errors);
            Assert.Equal(summary, split.Summary);
        }
    }

    [Fact]
    public void Splitting_the_input_at_any_two_bytes_gives_the_same_result()
    {
        var (rows, errors, summary) = DecodeInChunks(Mixed, []);
        for (var first = 0; first <= Mixed.Length; first += 3)
        for (var second = first; second <= Mixed.Length; second++)
        {
            var split = DecodeInChunks(Mixed, [first, second]);
            Assert.Equal(rows, split.Rows);
            Assert.Equal(errors, split.Errors);
            Assert.Equal(summary, split.Summary);
        }
    }

    [Fact]
    public void One_byte_at_a_time_gives_the_same_result()
    {
        var expected = DecodeInChunks(Mixed, []);
        var single = DecodeInChunks(Mixed, Enumerable.Range(1, Mixed.Length - 1));
        Assert.Equal(expected.Rows, single.Rows);
        Assert.Equal(expected.Errors, single.Errors);
        Assert.Equal(expected.Summary, single.Summary);
    }

    [Fact]
    public void Batches_hold_at_most_max_rows_and_keep_line_order()
    {
        var text = string.Concat(Enumerable.Range(0, 10).Select(i => $$"""{"key":"k{{i}}","seq":{{i}},"x":[{{i}},0,0]}""" + "\n"));
        var sink = new Collector();
        using var decoder = sink.Decoder(maxRows: 3);
        decoder.Decode(Encoding.UTF8.GetBytes(text));

        Assert.Equal([3, 3, 3], sink.Batches.Select(b => b.Count));
        decoder.Flush();
        Assert.Equal([3, 3, 3, 1], sink.Batches.Select(b => b.Count));
        decoder.Flush();
        Assert.Equal(4, sink.Batches.Count);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), sink.Rows.Select(r => r.Tag));
        Assert.All(sink.Rows, r => Assert.Equal($"k{r.Seq}", r.Key));
    }

    [Fact]
    public void Final_line_without_newline_is_parsed_on_complete_only()
    {
        var sink = new Collector();
        using var decoder = sink.Decoder();
        decoder.Decode("""{"key":"a","x":[1,2,3]}"""u8);
        decoder.Flush();
        Assert.Empty(sink.Batches);

        decoder.Complete();
        Assert.Equal([new ParsedRow("a", 0, StepFlags.None, 1, [1, 2, 3])], sink.Rows);
    }

    [Fact]
    public void Final_bad_line_without_newline_is_reported()
    {
        var (rows, errors, _) = DecodeInChunks(Encoding.UTF8.GetBytes("{\"key\":\"a\",\"x\":[1,2,3]}\n{\"key\":\"b\",\"x\":[1]"), [30]);
        Assert.Single(rows);
        Assert.Equal(2, Assert.Single(errors).Line);
    }

    [Fact]
    public void Byte_order_mark_at_the_start_is_skipped_even_when_split()
    {
        var input = "\uFEFF{\"key\":\"a\",\"x\":[1,2,3]}\n"u8.ToArray();
        for (var cut = 0; cut <= 4; cut++)
        {
            var (rows, errors, _) = DecodeInChunks(input, [cut]);
            Assert.Empty(errors);
            Assert.Equal("a", Assert.Single(rows).Key);
        }
    }

    [Fact]
    public void Very_long_valid_line_across_many_chunks_is_parsed_exactly()
    {
        const int width = 20_000;
        var random = new Random(5);
        var x = Enumerable.Range(0, width).Select(_ => (float)(random.NextDouble() * 2 - 1) * MathF.Pow(10, random.Next(-30, 30))).ToArray();
        var line = "{\"key\":\"long\",\"x\":[" + string.Join(",", x.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]}\n";
        var input = Encoding.UTF8.GetBytes(line + line);

        var batches = new List<StepBatch>();
        var errors = new List<RecordError>();
        using var decoder = new NdjsonBatchDecoder(new NdjsonRecordParser(width), 4, batches.Add, errors.Add);
        for (var at = 0; at < input.Length; at += 4096)
            decoder.Decode(input.AsSpan(at, Math.Min(4096, input.Length - at)));
        decoder.Complete();

        Assert.Empty(errors);
        var batch = Assert.Single(batches);
        Assert.Equal(2, batch.Count);
        Assert.Equal(x, batch.Row(0).ToArray());
        Assert.Equal(x, batch.Row(1).ToArray());
    }

    [Fact]
    public void Line_longer_than_the_limit_is_rejected_and_the_rest_goes_on()
    {
        var input = Encoding.UTF8.GetBytes(
            "{\"key\":\"a\",\"x\":[1,2,3]}\n" +
            "{\"key\":\"big\",\"x\":[1,2,3],\"pad\":\"" + new string('p', 200) + "\"}\n" +
            "{\"key\":\"b\",\"x\":[4,5,6]}\n" +
            "{\"key\":\"tail\",\"x\":[1,2,3],\"pad\":\"" + new string('q', 100) + "\"}");

        var whole = DecodeInChunks(input, [], maxLineBytes: 64);
        for (var chunk = 1; chunk <= input.Length; chunk += 7)
        {
            var cuts = Enumerable.Range(1, (input.Length - 1) / chunk).Select(i => i * chunk);
            var (rows, errors, summary) = DecodeInChunks(input, cuts, maxLineBytes: 64);

            Assert.Equal(["a", "b"], rows.Select(r => r.Key));
            Assert.Equal([1L, 3L], rows.Select(r => r.Tag));
            Assert.Equal([2L, 4L], errors.Select(e => e.Line));
            Assert.All(errors, e => Assert.Equal("line is longer than 64 bytes", e.Reason));
            Assert.Equal(new NdjsonParseSummary(4, 0, 2, 2), summary);
            Assert.Equal(whole.Rows, rows);
        }
    }

    [Fact]
    public void Line_exactly_at_the_limit_is_accepted()
    {
        var line = """{"key":"a","x":[1,2,3]}"""u8.ToArray();
        var input = line.Concat("\r\n"u8.ToArray()).Concat(line).ToArray();
        var (rows, errors, _) = DecodeInChunks(input, [5, 30], maxLineBytes: line.Length + 1);
        Assert.Empty(errors);
        Assert.Equal(2, rows.Count);
    }

    [Fact]
    public void Empty_input_and_only_blank_lines_give_nothing()
    {
        Assert.Equal(new NdjsonParseSummary(0, 0, 0, 0), DecodeInChunks([], []).Summary);
        var (rows, errors, summary) = DecodeInChunks("\n\r\n  \n\t"u8.ToArray(), [2]);
        Assert.Empty(rows);
        Assert.Empty(errors);
        Assert.Equal(new NdjsonParseSummary(4, 4, 0, 0), summary);
    }

    [Fact]
    public void Disposed_decoder_refuses_input()
    {
        var sink = new Collector();
        var decoder = sink.Decoder();
        decoder.Decode("""{"key":"a","x":[1,2,3]}"""u8);
        decoder.Dispose();
        Assert.Throws<ObjectDisposedException>(() => decoder.Decode("\n"u8));
    }
}
