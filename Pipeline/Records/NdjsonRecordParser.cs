using System.Buffers;
using System.Text;
using System.Text.Json;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// Parses one UTF-8 NDJSON input line, <c>{"key":"sensor-7","seq":12,"x":[0.1,…],"reset":true,"end":true}</c>,
/// straight into a new row of a <see cref="StepBatch"/>: the key (interned), <c>seq</c> with
/// <see cref="StepFlags.HasSeq"/> when given, the <see cref="StepFlags.Reset"/>/<see cref="StepFlags.End"/>
/// flags, the line number as the row's tag and <c>x</c> written in place into the row's vector.
/// <para>
/// <c>seq</c>, <c>reset</c> and <c>end</c> are optional (<c>null</c> counts as absent); unknown fields are
/// skipped. A line that is not one JSON object, or whose <c>key</c> is missing, empty or not a string, whose
/// <c>x</c> is missing, not an array, of the wrong length, holds a non-number or a value that is not a finite
/// 32-bit float, whose <c>seq</c> is not an integer or whose flags are not booleans, is rejected with a
/// <see cref="RecordError"/> naming the line, the key (when it could be read), the field and the reason.
/// </para>
/// <para>
/// Keys are decoded into a stack or pooled buffer and looked up in a bounded intern cache, so a key seen
/// before costs no allocation. A line in the compact form machines write (no whitespace, plain ASCII key, no
/// other fields) is read by <see cref="CompactRecordReader"/> without the general JSON reader, to the same row;
/// every other line, and every line that is rejected, goes through the general reader. Not thread-safe: one
/// parser per input stream.
/// </para>
/// </summary>
public sealed class NdjsonRecordParser
{
    /// <summary>How many distinct keys the intern cache holds before it starts over.</summary>
    public const int DefaultKeyCacheSize = 1 << 16;

    /// <summary>The default longest key, in UTF-8 bytes: <see cref="MaxKeyBytes"/>.</summary>
    public const int DefaultMaxKeyBytes = 256;

    /// <summary>JSON escapes take at most 6 bytes per byte of UTF-8 text (<c>\u00XX</c>).</summary>
    private const int MaxEscapedBytesPerByte = 6;

    private const int StackKeyChars = 256;

    private readonly Dictionary<string, string> _keys;
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _keyLookup;
    private readonly int _keyCacheSize;

    /// <summary>A parser for records of <paramref name="inputSize"/> inputs that interns up to <paramref name="keyCacheSize"/> keys.</summary>
    /// <param name="inputSize">The length every <c>x</c> must have.</param>
    /// <param name="keyCacheSize">How many distinct keys stay interned.</param>
    /// <param name="maxKeyBytes">The longest accepted key in UTF-8 bytes; a record with a longer one is rejected (field <c>key</c>).</param>
    public NdjsonRecordParser(int inputSize, int keyCacheSize = DefaultKeyCacheSize, int maxKeyBytes = DefaultMaxKeyBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(keyCacheSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxKeyBytes);
        MaxKeyBytes = maxKeyBytes;
        InputSize = inputSize;
        _keyCacheSize = keyCacheSize;
        _keys = new Dictionary<string, string>(StringComparer.Ordinal);
        _keyLookup = _keys.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The length every <c>x</c> must have (the model's input size).</summary>
    public int InputSize { get; }

    /// <summary>The longest accepted key, in UTF-8 bytes.</summary>
    public int MaxKeyBytes { get; }

    /// <summary>
    /// Parses <paramref name="line"/> (without its line terminator) and, when it is a valid record, appends it
    /// to <paramref name="batch"/> with tag <paramref name="lineNumber"/>. A rejected line leaves the batch as
    /// it was and sets <paramref name="error"/>; a blank line is skipped.
    /// </summary>
    public LineOutcome Parse(ReadOnlySpan<byte> line, long lineNumber, StepBatch batch, out RecordError? error) =>
        Parse(line, lineNumber, batch, givenKey: null, out error);

    /// <summary>
    /// Parses a record whose key is given by where it came from (an MQTT topic level, say) rather than by the
    /// record: <c>{"seq":12,"x":[…],"reset":true,"end":true}</c>. <paramref name="key"/> becomes the row's key
    /// (interned); a <c>key</c> field in the record is allowed only when it equals <paramref name="key"/>. An
    /// empty <paramref name="key"/> rejects the record (field <c>key</c>). The row's tag, and the error's
    /// <see cref="RecordError.Line"/>, is <paramref name="tag"/>. Otherwise as <see cref="Parse(ReadOnlySpan{byte}, long, StepBatch, out RecordError?)"/>.
    /// </summary>
    public LineOutcome ParseWithKey(ReadOnlySpan<byte> record, ReadOnlySpan<char> key, long tag, StepBatch batch, out RecordError? error)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (key.IsEmpty)
        {
            error = IsBlank(record) ? null : new RecordError(tag, null, RecordFields.Key, "must not be empty");
            return error is null ? LineOutcome.Blank : LineOutcome.Rejected;
        }

        if (TooLong(key) is { } tooLong)
        {
            error = IsBlank(record) ? null : new RecordError(tag, null, RecordFields.Key, tooLong);
            return error is null ? LineOutcome.Blank : LineOutcome.Rejected;
        }

        return Parse(record, tag, batch, Intern(key), out error);
    }

    private LineOutcome Parse(ReadOnlySpan<byte> line, long lineNumber, StepBatch batch, string? givenKey, out RecordError? error)
    {
        ArgumentNullException.ThrowIfNull(batch);
        error = null;
        if (IsBlank(line)) return LineOutcome.Blank;
        if (batch.Width != InputSize)
            throw new ArgumentException($"batch rows are {batch.Width} wide, the parser's input size is {InputSize}", nameof(batch));

        int row = batch.Add(string.Empty, 0, StepFlags.None, lineNumber);
        if (givenKey is null && TryParseCompact(line, batch, row)) return LineOutcome.Appended;

        var record = new RecordState { Key = givenKey, KeyIsGiven = givenKey is not null };
        try
        {
            ReadRecord(line, batch.Row(row), ref record);
        }
        catch (JsonException ex)
        {
            record.Fail(record.CurrentField, DescribeSyntaxError(ex, record.ObjectClosed));
        }
        catch
        {
            batch.RemoveLast();
            throw;
        }

        if (record.FailReason is null)
        {
            if (record.Key is null) record.Fail(RecordFields.Key, "missing");
            else if (!record.SawX) record.Fail(RecordFields.X, "missing");
        }

        if (record.FailReason is not null)
        {
            batch.RemoveLast();
            error = new RecordError(lineNumber, record.Key, record.FailField, record.FailReason);
            return LineOutcome.Rejected;
        }

        batch.Keys[row] = record.Key!;
        batch.Seq[row] = record.Seq;
        batch.Flags[row] = record.Flags;
        return LineOutcome.Appended;
    }

    /// <summary>The fast path: a record in the compact form (<see cref="CompactRecordReader"/>) straight into row <paramref name="row"/>.</summary>
    private bool TryParseCompact(ReadOnlySpan<byte> line, StepBatch batch, int row)
    {
        if (!CompactRecordReader.TryRead(line, batch.Row(row), out var keyRange, out long seq, out var flags)) return false;
        var keyBytes = line[keyRange];
        if (keyBytes.Length > StackKeyChars || keyBytes.Length > MaxKeyBytes) return false;
        // The compact form's keys are printable ASCII: one char per byte.
        Span<char> chars = stackalloc char[keyBytes.Length];
        Ascii.ToUtf16(keyBytes, chars, out _);
        batch.Keys[row] = Intern(chars);
        batch.Seq[row] = seq;
        batch.Flags[row] = flags;
        return true;
    }

    /// <summary>True when the line holds nothing but JSON whitespace.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\r\n"u8) < 0;

    private void ReadRecord(ReadOnlySpan<byte> line, Span<float> x, ref RecordState record)
    {
        var reader = new Utf8JsonReader(line, isFinalBlock: true, state: default);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            record.Fail(null, $"not a JSON object but {Describe(reader.TokenType)}");
            reader.Skip();
            record.ObjectClosed = true;
            while (reader.Read()) { }
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Classify(ref reader);
            record.CurrentField = field;
            reader.Read();
            switch (field)
            {
                case RecordFields.Key:
                    if (!record.Once(ref record.SawKey, field)) reader.Skip();
                    else if (record.KeyIsGiven) CheckGivenKey(ref reader, ref record);
                    else ReadKey(ref reader, ref record);
                    break;
                case RecordFields.X:
                    // Always walk the array so that the rest of the line can still be read (for its key).
                    bool firstX = record.Once(ref record.SawX, field);
                    ReadVector(ref reader, firstX ? x : default, ref record);
                    break;
                case RecordFields.Seq:
                    if (record.Once(ref record.SawSeq, field)) ReadSeq(ref reader, ref record);
                    else reader.Skip();
                    break;
                case RecordFields.Reset:
                    if (record.Once(ref record.SawReset, field)) ReadFlag(ref reader, field, StepFlags.Reset, ref record);
                    else reader.Skip();
                    break;
                case RecordFields.End:
                    if (record.Once(ref record.SawEnd, field)) ReadFlag(ref reader, field, StepFlags.End, ref record);
                    else reader.Skip();
                    break;
                default:
                    reader.Skip();
                    break;
            }

            record.CurrentField = null;
        }

        record.ObjectClosed = true;
        // Anything but whitespace after the object makes the reader throw ("invalid after a single JSON value").
        while (reader.Read()) { }
    }

    private static string? Classify(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("key"u8)) return RecordFields.Key;
        if (reader.ValueTextEquals("x"u8)) return RecordFields.X;
        if (reader.ValueTextEquals("seq"u8)) return RecordFields.Seq;
        if (reader.ValueTextEquals("reset"u8)) return RecordFields.Reset;
        if (reader.ValueTextEquals("end"u8)) return RecordFields.End;
        return null;
    }

    private void ReadKey(ref Utf8JsonReader reader, ref RecordState record)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            record.Fail(RecordFields.Key, $"must be a string, not {Describe(reader.TokenType)}");
            reader.Skip();
            return;
        }

        // Unescaped UTF-16 never has more chars than the UTF-8 (or escaped) text has bytes.
        int maxChars = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        if (maxChars == 0)
        {
            record.Fail(RecordFields.Key, "must not be empty");
            return;
        }

        if (maxChars > (long)MaxKeyBytes * MaxEscapedBytesPerByte)
        {
            // Too long however it is escaped: not decoded at all.
            record.Fail(RecordFields.Key, $"is longer than {MaxKeyBytes} bytes, the longest key accepted");
            return;
        }

        char[]? rented = null;
        Span<char> buffer = maxChars <= StackKeyChars
            ? stackalloc char[StackKeyChars]
            : (rented = ArrayPool<char>.Shared.Rent(maxChars));
        try
        {
            int length;
            try
            {
                length = reader.CopyString(buffer);
            }
            catch (InvalidOperationException)
            {
                record.Fail(RecordFields.Key, "is not valid UTF-8 / Unicode text");
                return;
            }

            if (length == 0)
            {
                record.Fail(RecordFields.Key, "must not be empty");
                return;
            }

            if (TooLong(buffer[..length]) is { } tooLong)
            {
                record.Fail(RecordFields.Key, tooLong);
                return;
            }

            record.Key = Intern(buffer[..length]);
        }
        finally
        {
            if (rented is not null) ArrayPool<char>.Shared.Return(rented);
        }
    }

    /// <summary>A <c>key</c> field in a record whose key is given from outside: must repeat that key.</summary>
    private static void CheckGivenKey(ref Utf8JsonReader reader, ref RecordState record)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            record.Fail(RecordFields.Key, $"must be a string, not {Describe(reader.TokenType)}");
            reader.Skip();
            return;
        }

        if (!reader.ValueTextEquals(record.Key))
            record.Fail(RecordFields.Key, $"is \"{Excerpt(reader.ValueSpan)}\" but the record's source gives the key '{record.Key}'");
    }

    /// <summary>Why <paramref name="key"/> is refused for its length, or null when it is short enough.</summary>
    private string? TooLong(ReadOnlySpan<char> key)
    {
        if (key.Length * 3 <= MaxKeyBytes) return null; // at most 3 UTF-8 bytes per UTF-16 char
        int bytes = Encoding.UTF8.GetByteCount(key);
        return bytes <= MaxKeyBytes ? null : $"is {bytes} bytes long (UTF-8), more than the {MaxKeyBytes} bytes a key may have";
    }

    private string Intern(ReadOnlySpan<char> chars)
    {
        if (_keyLookup.TryGetValue(chars, out var key)) return key;
        key = new string(chars);
        if (_keys.Count >= _keyCacheSize) _keys.Clear();
        _keys.Add(key, key);
        return key;
    }

    /// <summary>Reads the array at the reader into <paramref name="x"/> (empty: validate and count only).</summary>
    private void ReadVector(ref Utf8JsonReader reader, Span<float> x, ref RecordState record)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            record.Fail(RecordFields.X, $"must be an array of numbers, not {Describe(reader.TokenType)}");
            reader.Skip();
            return;
        }

        int count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            int index = count++;
            switch (reader.TokenType)
            {
                case JsonTokenType.Number:
                    if (!reader.TryGetSingle(out float value) || !float.IsFinite(value))
                    {
                        record.Fail(RecordFields.X, $"x[{index}] = {Excerpt(reader.ValueSpan)} is not a finite 32-bit float");
                    }
                    else if (index < x.Length)
                    {
                        x[index] = value;
                    }

                    break;
                case JsonTokenType.String:
                    record.Fail(RecordFields.X, $"x[{index}] is the string \"{Excerpt(reader.ValueSpan)}\", not a number");
                    break;
                default:
                    record.Fail(RecordFields.X, $"x[{index}] is {Describe(reader.TokenType)}, not a number");
                    reader.Skip();
                    break;
            }
        }

        if (count != InputSize)
            record.Fail(RecordFields.X, $"has {count} value{(count == 1 ? "" : "s")}, the model's input size is {InputSize}");
    }

    private static void ReadSeq(ref Utf8JsonReader reader, ref RecordState record)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return;
            case JsonTokenType.Number when reader.TryGetInt64(out long seq):
                record.Seq = seq;
                record.Flags |= StepFlags.HasSeq;
                return;
            case JsonTokenType.Number:
                record.Fail(RecordFields.Seq, $"must be a 64-bit integer, not {Excerpt(reader.ValueSpan)}");
                return;
            default:
                record.Fail(RecordFields.Seq, $"must be an integer, not {Describe(reader.TokenType)}");
                reader.Skip();
                return;
        }
    }

    private static void ReadFlag(ref Utf8JsonReader reader, string field, StepFlags flag, ref RecordState record)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                record.Flags |= flag;
                return;
            case JsonTokenType.False:
            case JsonTokenType.Null:
                return;
            default:
                record.Fail(field, $"must be true or false, not {Describe(reader.TokenType)}");
                reader.Skip();
                return;
        }
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => token.ToString(),
    };

    /// <summary>The raw JSON text of a value for an error message, cut at 40 bytes.</summary>
    private static string Excerpt(ReadOnlySpan<byte> raw) =>
        raw.Length <= 40 ? Encoding.UTF8.GetString(raw) : Encoding.UTF8.GetString(raw[..40]) + "…";

    private static string DescribeSyntaxError(JsonException ex, bool objectClosed)
    {
        if (objectClosed) return "trailing content after the JSON object";
        var message = ex.Message;
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        return ex.BytePositionInLine is { } at
            ? $"not valid JSON at column {at + 1}: {message}"
            : $"not valid JSON: {message}";
    }

    /// <summary>What has been read of one line so far; the first failure wins.</summary>
    private struct RecordState
    {
        public string? Key;
        public long Seq;
        public StepFlags Flags;
        public bool SawKey, SawX, SawSeq, SawReset, SawEnd;
        public bool KeyIsGiven;
        public bool ObjectClosed;
        public string? CurrentField;
        public string? FailField;
        public string? FailReason;

        public void Fail(string? field, string reason)
        {
            if (FailReason is not null) return;
            FailField = field;
            FailReason = reason;
        }

        /// <summary>Marks a field as seen; false (and a failure) when it was already given.</summary>
        public bool Once(ref bool seen, string field)
        {
            if (!seen)
            {
                seen = true;
                return true;
            }

            Fail(field, "given more than once");
            return false;
        }
    }
}
