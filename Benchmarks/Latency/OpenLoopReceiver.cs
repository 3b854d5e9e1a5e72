using HdrHistogram;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// One connection's receiving side of the open-loop generator: it takes the bytes read from the socket together with
/// the time they were read, splits them into lines (a line may span reads) and records, per output, the time from
/// its record's due time (found by the <c>seq</c> it carries back) to its arrival, whenever the record was actually
/// sent; error lines are counted. With the times the generator wrote the records (<c>writtenAt</c>, by <c>seq</c>) it
/// also records the time from that write to the arrival (<see cref="FromWrite"/>): the round trip without the
/// generator's own lateness. Parses in place in one buffer, allocating nothing per read.
/// </summary>
internal sealed class OpenLoopReceiver(OpenLoopSchedule schedule, long[]? writtenAt = null)
{
    private readonly byte[] _buffer = new byte[1 << 18];
    private int _have;

    /// <summary>Due time to arrival, nanoseconds, over the measured records.</summary>
    public LongHistogram Latency { get; } = LatencySummary.NewHistogram();

    /// <summary>The generator's write (the tick that formatted the record) to arrival, nanoseconds, over the measured records; empty without <c>writtenAt</c>.</summary>
    public LongHistogram FromWrite { get; } = LatencySummary.NewHistogram();

    public long Received { get; private set; }
    public long Errors { get; private set; }

    /// <summary>Where the next read goes (the room after the part-line kept from earlier reads).</summary>
    public Span<byte> Free => _buffer.AsSpan(_have);

    /// <summary><paramref name="count"/> bytes were read into <see cref="Free"/> at <paramref name="arrival"/> (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public void OnRead(int count, long arrival)
    {
        _have += count;
        var start = 0;
        while (true)
        {
            var newline = _buffer.AsSpan(start, _have - start).IndexOf((byte)'\n');
            if (newline < 0) break;
            var line = _buffer.AsSpan(start, newline);
            var seq = line.IndexOf("\"error\""u8) >= 0 ? -1 : RecordLines.SeqOf(line);
            if (seq < 0) Errors++;
            else
            {
                Received++;
                if (seq >= schedule.WarmUpRecords)
                {
                    LatencySummary.Record(Latency, arrival - schedule.DueAt(seq));
                    if (writtenAt is not null && seq < writtenAt.Length) LatencySummary.Record(FromWrite, arrival - writtenAt[seq]);
                }
            }

            start += newline + 1;
        }

        if (start == 0 && _have == _buffer.Length) throw new InvalidDataException($"an output line longer than {_buffer.Length} bytes");
        _buffer.AsSpan(start, _have - start).CopyTo(_buffer);
        _have -= start;
    }
}
