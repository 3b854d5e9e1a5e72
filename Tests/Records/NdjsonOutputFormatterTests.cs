using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Records;

public sealed class NdjsonOutputFormatterTests
{
    private static string FormatFloat(float value)
    {
        Span<byte> buffer = stackalloc byte[NdjsonOutputFormatter.MaxFloatBytes];
        int n = NdjsonOutputFormatter.WriteFloat(value, buffer);
        return Encoding.UTF8.GetString(buffer[..n]);
    }

    private static void AssertRoundTrips(float value)
    {
        var text = FormatFloat(value);
        Assert.InRange(text.Length, 1, NdjsonOutputFormatter.MaxFloatBytes);
        // As a .NET float …
        var parsed = float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        Assert.True(BitConverter.SingleToInt32Bits(value) == BitConverter.SingleToInt32Bits(parsed), $"{value:R} printed as {text} reads back as {parsed:R}");
        // … and as a JSON number.
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
        Assert.True(reader.Read());
        Assert.Equal(JsonTokenType.Number, reader.TokenType);
        Assert.True(reader.TryGetSingle(out var json));
        Assert.Equal(BitConverter.SingleToInt32Bits(value), BitConverter.SingleToInt32Bits(json));
    }

    [Fact]
    public void Random_float_bit_patterns_round_trip_exactly()
    {
        var random = new Random(20261129);
        for (var i = 0; i < 200_000; i++)
        {
            var value = BitConverter.Int32BitsToSingle(random.Next() ^ (random.Next(2) << 31));
            if (float.IsFinite(value)) AssertRoundTrips(value);
        }
    }

    [Fact]
    public void Subnormals_round_trip_exactly()
    {
        var random = new Random(7);
        for (var i = 0; i < 20_000; i++)
        {
            var bits = random.Next(1, 0x007F_FFFF + 1);
            AssertRoundTrips(BitConverter.Int32BitsToSingle(bits));
            AssertRoundTrips(-BitConverter.Int32BitsToSingle(bits));
        }
    }

    [Theory]
    [InlineData(0f, "0")]
    [InlineData(-0f, "-0")]
    [InlineData(1f, "1")]
    [InlineData(-2.5f, "-2.5")]
    [InlineData(0.1f, "0.1")]
    [InlineData(1e-5f, "1E-05")]
    [InlineData(1e20f, "1E+20")]
    [InlineData(float.Epsilon, "1E-45")]
    [InlineData(float.MaxValue, "3.4028235E+38")]
    [InlineData(float.MinValue, "-3.4028235E+38")]
    [InlineData(1.17549435E-38f, "1.1754944E-38")]
    [InlineData(0.22470306f, "0.22470306")]
    [InlineData(16777216f, "16777216")]
    public void Special_values_print_shortest_form(float value, string expected)
    {
        Assert.Equal(expected, FormatFloat(value));
        AssertRoundTrips(value);
    }

    [Fact]
    public void Negative_zero_keeps_its_sign()
    {
        var text = FormatFloat(-0f);
        Assert.True(float.IsNegative(float.Parse(text, CultureInfo.InvariantCulture)));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Non_finite_values_print_as_null(float value) => Assert.Equal("null", FormatFloat(value));

    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("", "\"\"")]
    [InlineData("a\"b", "\"a\\\"b\"")]
    [InlineData("back\\slash", "\"back\\\\slash\"")]
    [InlineData("line\nfeed\r\ttab\b\f", "\"line\\nfeed\\r\\ttab\\b\\f\"")]
    [InlineData("\u0000\u0001\u001f", "\"\\u0000\\u0001\\u001f\"")]
    [InlineData("Köln 東京 🚗", "\"Köln 東京 🚗\"")]
    [InlineData("slash/ and \u007f and \u2028", "\"slash/ and \u007f and \u2028\"")]
    public void Strings_are_json_escaped(string value, string expected)
    {
        var buffer = new byte[NdjsonOutputFormatter.MaxStringBytes(value.Length)];
        int n = NdjsonOutputFormatter.WriteString(value, buffer);
        Assert.Equal(expected, Encoding.UTF8.GetString(buffer, 0, n));
    }

    [Fact]
    public void Random_strings_read_back_unchanged()
    {
        var random = new Random(3);
        var alphabet = "ab\"\\/\n\r\t\b\f\u0000\u0001\u001e\u007fé€東🚗\u2028 ".EnumerateRunes().ToArray();
        for (var i = 0; i < 2000; i++)
        {
            var value = string.Concat(Enumerable.Range(0, random.Next(0, 40)).Select(_ => alphabet[random.Next(alphabet.Length)].ToString()));
            var buffer = new byte[NdjsonOutputFormatter.MaxStringBytes(value.Length)];
            int n = NdjsonOutputFormatter.WriteString(value, buffer);
            Assert.Equal(value, JsonSerializer.Deserialize<string>(buffer.AsSpan(0, n)));
        }
    }

    [Fact]
    public void Lone_surrogate_becomes_the_replacement_character()
    {
        var buffer = new byte[NdjsonOutputFormatter.MaxStringBytes(3)];
        int n = NdjsonOutputFormatter.WriteString("a\ud800b", buffer);
        Assert.Equal("a\uFFFDb", JsonSerializer.Deserialize<string>(buffer.AsSpan(0, n)));
    }

    private static StepBatch Batch(int width, params (string Key, long Seq, StepFlags Flags, float[] Y)[] rows)
    {
        var batch = StepBatch.Rent(Math.Max(1, rows.Length), width);
        foreach (var (key, seq, flags, y) in rows)
        {
            int r = batch.Add(key, seq, flags, 0);
            y.CopyTo(batch.Row(r));
        }

        return batch;
    }

    private static string Format(StepBatch batch)
    {
        var buffer = new ArrayBufferWriter<byte>(16);
        NdjsonOutputFormatter.WriteBatch(batch, buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void Rows_become_lines_with_seq_only_when_given()
    {
        var batch = Batch(2,
            ("sensor-7", 12, StepFlags.HasSeq, [0.5f, -1e-5f]),
            ("no-seq", 99, StepFlags.Reset, [1f, 0f]),
            ("q\"uote", 0, StepFlags.HasSeq | StepFlags.End, [float.NaN, -0f]));

        Assert.Equal(
            "{\"key\":\"sensor-7\",\"seq\":12,\"y\":[0.5,-1E-05]}\n" +
            "{\"key\":\"no-seq\",\"y\":[1,0]}\n" +
            "{\"key\":\"q\\\"uote\",\"seq\":0,\"y\":[null,-0]}\n",
            Format(batch));
    }

    [Fact]
    public void The_output_width_follows_the_batch_after_its_data_is_replaced()
    {
        var batch = Batch(3, ("k", -5, StepFlags.HasSeq, [1f, 2f, 3f]));
        var data = ArrayPool<float>.Shared.Rent(1);
        data[0] = 0.25f;
        batch.ReplaceData(data, 1);
        Assert.Equal("{\"key\":\"k\",\"seq\":-5,\"y\":[0.25]}\n", Format(batch));
    }

    [Fact]
    public void Wide_rows_with_long_keys_fit_the_buffer_they_ask_for()
    {
        var random = new Random(11);
        var y = Enumerable.Range(0, 4096).Select(_ => -BitConverter.Int32BitsToSingle(random.Next(0x0080_0000, 0x7F7F_FFFF))).ToArray();
        var key = new string('\u0001', 1000);
        var batch = Batch(y.Length, (key, long.MinValue, StepFlags.HasSeq, y));

        var line = Format(batch);
        using var doc = JsonDocument.Parse(line);
        Assert.Equal(key, doc.RootElement.GetProperty("key").GetString());
        Assert.Equal(long.MinValue, doc.RootElement.GetProperty("seq").GetInt64());
        Assert.Equal(y, doc.RootElement.GetProperty("y").EnumerateArray().Select(e => e.GetSingle()));
    }

    [Fact]
    public void Errors_format_as_one_json_line()
    {
        Assert.Equal("{\"error\":\"has 2 values, the model's input size is 3\",\"line\":12,\"key\":\"k\\\"1\",\"field\":\"x\"}",
            NdjsonOutputFormatter.FormatError(new RecordError(12, "k\"1", "x", "has 2 values, the model's input size is 3")));
        Assert.Equal("{\"error\":\"not valid JSON at column 1: \\\"x\\\"\\n\",\"line\":3}",
            NdjsonOutputFormatter.FormatError(new RecordError(3, null, null, "not valid JSON at column 1: \"x\"\n")));

        var buffer = new ArrayBufferWriter<byte>();
        NdjsonOutputFormatter.WriteError(new RecordError(1, null, "key", "missing"), buffer);
        Assert.Equal("{\"error\":\"missing\",\"line\":1,\"field\":\"key\"}\n", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Fact]
    public void A_duplicate_row_is_written_as_a_duplicate_record_without_y()
    {
        var batch = StepBatch.Rent(2, 2);
        batch.Row(batch.Add("sensor-\"7", 12, StepFlags.HasSeq | StepFlags.Duplicate, 0)).Fill(1.5f);
        batch.Row(batch.Add("sensor-8", 13, StepFlags.HasSeq, 1)).Fill(2f);
        var text = new ArrayBufferWriter<byte>();

        NdjsonOutputFormatter.WriteBatch(batch, text);
        batch.Release();

        Assert.Equal("{\"key\":\"sensor-\\\"7\",\"seq\":12,\"duplicate\":true}\n{\"key\":\"sensor-8\",\"seq\":13,\"y\":[2,2]}\n",
            Encoding.UTF8.GetString(text.WrittenSpan));
    }
}
