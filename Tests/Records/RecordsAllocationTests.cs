using System.Buffers;
using System.Text;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Records;

/// <summary>The hot paths allocate nothing per line or row once keys are known and buffers are warm.</summary>
public sealed class RecordsAllocationTests
{
    private static readonly byte[] Lines = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 512).Select(i =>
        $$"""{"key":"sensor-{{i % 16}}","seq":{{i}},"x":[{{i}}.5,-1e-3,2.25,0],"reset":{{(i % 5 == 0 ? "true" : "false")}},"note":{"a":[1]},"z":0}""" + "\r\n")));

    [Fact]
    public void Parsing_known_keys_allocates_nothing_per_line()
    {
        var parser = new NdjsonRecordParser(4);
        var batch = StepBatch.Rent(Lines.Length, 4);
        ParseAll(parser, batch);
        var clean = StepBatch.Rent(Lines.Length, 4);

        long before = GC.GetAllocatedBytesForCurrentThread();
        int rows = ParseAll(parser, clean);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(512, rows);
        Assert.Equal(0, allocated);
    }

    /// <summary>Machine-written lines: the parser's compact fast path.</summary>
    private static readonly byte[] CompactLines = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 512).Select(i =>
        $$"""{"key":"sensor-{{i % 16}}","seq":{{i}},"x":[{{i}}.5,-1e-3,2.25,0.123456789],"reset":{{(i % 5 == 0 ? "true" : "false")}}}""" + "\n")));

    [Fact]
    public void Parsing_compact_lines_of_known_keys_allocates_nothing_per_line()
    {
        var first = CompactLines.AsSpan(0, CompactLines.AsSpan().IndexOf((byte)'\n'));
        Assert.True(CompactRecordReader.TryRead(first, new float[4], out _, out _, out _), "the lines take the fast path");
        var parser = new NdjsonRecordParser(4);
        ParseAll(parser, StepBatch.Rent(CompactLines.Length, 4), CompactLines);
        var clean = StepBatch.Rent(CompactLines.Length, 4);

        long before = GC.GetAllocatedBytesForCurrentThread();
        int rows = ParseAll(parser, clean, CompactLines);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(512, rows);
        Assert.Equal(0, allocated);
    }

    private static int ParseAll(NdjsonRecordParser parser, StepBatch batch, byte[]? lines = null)
    {
        var rest = (lines ?? Lines).AsSpan();
        long line = 0;
        while (!rest.IsEmpty)
        {
            int end = rest.IndexOf((byte)'\n');
            var outcome = parser.Parse(rest[..end], ++line, batch, out _);
            if (outcome != LineOutcome.Appended) throw new InvalidOperationException($"line {line}: {outcome}");
            rest = rest[(end + 1)..];
        }

        return batch.Count;
    }

    [Fact]
    public void Decoding_chunks_into_recycled_batches_allocates_nothing_per_line()
    {
        var batches = new List<StepBatch>(64);
        using var decoder = new NdjsonBatchDecoder(new NdjsonRecordParser(4), 64, batches.Add, e => throw new InvalidOperationException(e.ToString()));
        void DecodeAll()
        {
            for (var at = 0; at < Lines.Length; at += 1000) decoder.Decode(Lines.AsSpan(at, Math.Min(1000, Lines.Length - at)));
            decoder.Flush();
            foreach (var b in batches) b.Release();
            batches.Clear();
        }

        DecodeAll();
        DecodeAll();
        long before = GC.GetAllocatedBytesForCurrentThread();
        DecodeAll();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Only the 8 StepBatch objects themselves (their arrays come from the pool), never anything per line.
        Assert.InRange(allocated, 1, 8 * 200);
    }

    [Fact]
    public void Formatting_rows_allocates_nothing()
    {
        var batch = StepBatch.Rent(256, 8);
        var random = new Random(1);
        for (var r = 0; r < 256; r++)
        {
            batch.Add($"key \"{r % 10}\"", r, r % 2 == 0 ? StepFlags.HasSeq : StepFlags.None, r);
            foreach (ref var v in batch.Row(r)) v = (float)random.NextDouble() - 0.5f;
        }

        var buffer = new ArrayBufferWriter<byte>(1 << 20);
        NdjsonOutputFormatter.WriteBatch(batch, buffer);
        buffer.ResetWrittenCount();

        long before = GC.GetAllocatedBytesForCurrentThread();
        NdjsonOutputFormatter.WriteBatch(batch, buffer);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(256, buffer.WrittenSpan.Count((byte)'\n'));
    }
}
