using System.Buffers;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// Turns an NDJSON byte stream that arrives in arbitrary chunks (a line may be split anywhere, even inside a
/// UTF-8 sequence or a <c>\r\n</c>) into <see cref="StepBatch"/>es of up to <see cref="MaxRows"/> rows.
/// Lines end at <c>\n</c>; a trailing <c>\r</c> is dropped, a UTF-8 byte-order mark at the very start is
/// skipped, and the last line needs no newline (<see cref="Complete"/>). Lines are numbered from 1, blank ones
/// included, and every row's tag is its line number.
/// <para>
/// Only the part of a line that straddles chunks is copied (into a pooled buffer that grows up to
/// <see cref="MaxLineBytes"/>); a longer line is rejected as a whole and skipped up to its newline.
/// Full batches go to the batch callback as soon as they fill; <see cref="Flush"/> hands over the partial
/// one. The receiver owns every batch it gets. Not thread-safe.
/// </para>
/// </summary>
public sealed class NdjsonBatchDecoder : IDisposable
{
    /// <summary>
    /// The default longest accepted line, in bytes (without its terminator): 1 MiB, the one default of every channel
    /// (<c>run</c>'s <c>--max-line-bytes</c>, <c>serve</c>'s <c>Limits:MaxLineBytes</c> for TCP, stdin and MQTT payloads).
    /// </summary>
    public const int DefaultMaxLineBytes = 1024 * 1024;

    private readonly NdjsonRecordParser _parser;
    private readonly Action<StepBatch> _onBatch;
    private readonly Action<RecordError> _onError;
    private byte[] _carry = [];
    private int _carryLength;
    private bool _discarding;
    private StepBatch? _current;
    private long _lines, _blank, _records, _rejected;

    /// <summary>Decodes with <paramref name="parser"/> into batches of at most <paramref name="maxRows"/> rows handed to <paramref name="onBatch"/>; rejected lines go to <paramref name="onError"/>, lines longer than <paramref name="maxLineBytes"/> are rejected.</summary>
    public NdjsonBatchDecoder(NdjsonRecordParser parser, int maxRows, Action<StepBatch> onBatch, Action<RecordError> onError,
        int maxLineBytes = DefaultMaxLineBytes)
    {
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentNullException.ThrowIfNull(onBatch);
        ArgumentNullException.ThrowIfNull(onError);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineBytes);
        _parser = parser;
        _onBatch = onBatch;
        _onError = onError;
        MaxRows = maxRows;
        MaxLineBytes = maxLineBytes;
    }

    /// <summary>The most rows per emitted batch.</summary>
    public int MaxRows { get; }

    /// <summary>The longest accepted line, in bytes.</summary>
    public int MaxLineBytes { get; }

    /// <summary>The number of the first line decoded (1 unless lines before it were read otherwise, e.g. a handshake line).</summary>
    public long FirstLineNumber
    {
        get => _firstLine;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            _firstLine = value;
            _lines = value - 1;
        }
    }

    private readonly long _firstLine = 1;

    /// <summary>The counts so far.</summary>
    public NdjsonParseSummary Summary => new(_lines, _blank, _records, _rejected);

    /// <summary>Consumes the next chunk of the stream.</summary>
    public void Decode(ReadOnlySpan<byte> chunk)
    {
        ObjectDisposedException.ThrowIf(_carry is null, this);
        while (!chunk.IsEmpty)
        {
            int newline = chunk.IndexOf((byte)'\n');
            if (newline < 0)
            {
                Carry(chunk);
                return;
            }

            var tail = chunk[..newline];
            chunk = chunk[(newline + 1)..];
            if (_discarding)
            {
                _discarding = false;
                continue;
            }

            if (_carryLength == 0)
            {
                Line(tail);
            }
            else if (Carry(tail))
            {
                int length = _carryLength;
                _carryLength = 0;
                Line(_carry.AsSpan(0, length));
            }
            else
            {
                _discarding = false;
            }
        }
    }

    /// <summary>The stream has ended: parses a last line that had no newline, then <see cref="Flush"/>es.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_carry is null, this);
        if (_carryLength > 0)
        {
            int length = _carryLength;
            _carryLength = 0;
            Line(_carry.AsSpan(0, length));
        }

        _discarding = false;
        Flush();
    }

    /// <summary>Hands the batch being filled to the batch callback when it has any rows.</summary>
    public void Flush()
    {
        if (_current is not { Count: > 0 } batch) return;
        _current = null;
        _onBatch(batch);
    }

    /// <summary>Releases the batch being filled and the carried partial line.</summary>
    public void Dispose()
    {
        _current?.Release();
        _current = null;
        if (_carry is { Length: > 0 }) ArrayPool<byte>.Shared.Return(_carry);
        _carry = null!;
    }

    /// <summary>Appends part of an unfinished line; false (and the line rejected) once it grows too long.</summary>
    private bool Carry(ReadOnlySpan<byte> part)
    {
        if (_discarding) return false;
        long needed = (long)_carryLength + part.Length;
        if (needed > MaxLineBytes)
        {
            _carryLength = 0;
            _discarding = true;
            RejectTooLong(++_lines);
            return false;
        }

        if (needed > _carry.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(MaxLineBytes, Math.Max(needed, 2L * _carry.Length)));
            _carry.AsSpan(0, _carryLength).CopyTo(bigger);
            if (_carry.Length > 0) ArrayPool<byte>.Shared.Return(_carry);
            _carry = bigger;
        }

        part.CopyTo(_carry.AsSpan(_carryLength));
        _carryLength += part.Length;
        return true;
    }

    private void Line(ReadOnlySpan<byte> line)
    {
        long number = ++_lines;
        if (line.Length > MaxLineBytes)
        {
            RejectTooLong(number);
            return;
        }

        if (number == 1 && line.StartsWith("\uFEFF"u8)) line = line[3..];
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];

        _current ??= StepBatch.Rent(MaxRows, _parser.InputSize);
        switch (_parser.Parse(line, number, _current, out var error))
        {
            case LineOutcome.Appended:
                _records++;
                if (_current.IsFull)
                {
                    var full = _current;
                    _current = null;
                    _onBatch(full);
                }

                break;
            case LineOutcome.Blank:
                _blank++;
                break;
            default:
                _rejected++;
                _onError(error!);
                break;
        }
    }

    private void RejectTooLong(long number)
    {
        _rejected++;
        _onError(new RecordError(number, null, null, $"line is longer than {MaxLineBytes} bytes"));
    }
}
