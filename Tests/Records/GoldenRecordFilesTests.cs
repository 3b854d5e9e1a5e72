using System.Buffers;
using System.Text;
using System.Text.Json;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Records;

/// <summary>
/// The record files of the reference cases (<c>../shared/golden</c>, or <c>LSTMSTREAM_SHARED</c>): every input line
/// parses to what a general JSON reader sees, and every expected output line is exactly what the formatter writes
/// for the same values.
/// </summary>
public sealed class GoldenRecordFilesTests
{
    private static string GoldenDirectory => LstmStream.Tests.Support.SharedData.Golden;

    public static TheoryData<string> Cases() => LstmStream.Tests.Golden.GoldenCase.Names();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Input_lines_parse_as_a_json_reader_reads_them(string name)
    {
        var dir = Path.Combine(GoldenDirectory, name);
        using var facts = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "case.json")));
        int inputSize = facts.RootElement.GetProperty("input_size").GetInt32();
        int steps = facts.RootElement.GetProperty("steps").GetInt32();
        var input = File.ReadAllBytes(Path.Combine(dir, "input.ndjson"));

        var batches = new List<StepBatch>();
        var errors = new List<RecordError>();
        using (var decoder = new NdjsonBatchDecoder(new NdjsonRecordParser(inputSize), 100, batches.Add, errors.Add))
        {
            for (var at = 0; at < input.Length; at += 8192) decoder.Decode(input.AsSpan(at, Math.Min(8192, input.Length - at)));
            decoder.Complete();
            Assert.Equal(new NdjsonParseSummary(steps, 0, steps, 0), decoder.Summary);
        }

        Assert.Empty(errors);
        var rows = batches.SelectMany(ParsedRow.AllOf).ToList();
        var lines = Encoding.UTF8.GetString(input).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(lines.Length, rows.Count);
        for (var i = 0; i < lines.Length; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            var record = doc.RootElement;
            var flags = StepFlags.HasSeq;
            if (record.TryGetProperty("reset", out var reset) && reset.GetBoolean()) flags |= StepFlags.Reset;
            if (record.TryGetProperty("end", out var end) && end.GetBoolean()) flags |= StepFlags.End;
            var expected = new ParsedRow(record.GetProperty("key").GetString()!, record.GetProperty("seq").GetInt64(), flags, i + 1,
                record.GetProperty("x").EnumerateArray().Select(e => e.GetSingle()).ToArray());
            Assert.Equal(expected, rows[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Expected_output_lines_are_exactly_what_the_formatter_writes(string name)
    {
        var lines = File.ReadAllLines(Path.Combine(GoldenDirectory, name, "expected.ndjson")).Where(l => l.Length > 0).ToArray();
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var record = doc.RootElement;
            var y = record.GetProperty("y").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            var batch = StepBatch.Rent(1, y.Length);
            int r = batch.Add(record.GetProperty("key").GetString()!, record.GetProperty("seq").GetInt64(), StepFlags.HasSeq, 0);
            y.CopyTo(batch.Row(r));

            buffer.ResetWrittenCount();
            NdjsonOutputFormatter.WriteBatch(batch, buffer);
            batch.Release();
            Assert.Equal(line + "\n", Encoding.UTF8.GetString(buffer.WrittenSpan));
        }
    }
}
