using System.Globalization;
using System.Text;
using System.Text.Json;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Records;

public sealed class CompactRecordReaderTests
{
    private const int InputSize = 3;

    /// <summary>What the general JSON reader makes of a number: the float, or null when it is not a finite float.</summary>
    private static float? GeneralReader(string number)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes($"[{number}]"));
        reader.Read();
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetSingle(out var value) && float.IsFinite(value) ? value : null;
    }

    private static (bool Read, float Value, int End) Compact(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        int at = 0;
        bool read = CompactRecordReader.TryReadNumber(bytes, ref at, out var value);
        return (read, value, at);
    }

    private static void AssertSameNumber(string number)
    {
        var expected = GeneralReader(number) ?? throw new InvalidOperationException($"{number} is not a finite float");
        var (read, value, end) = Compact(number + ",");
        Assert.True(read, number);
        Assert.Equal(number.Length, end);
        if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(value))
            Assert.Fail($"{number}: read {value:R}, the general reader gives {expected:R}");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0")]
    [InlineData("-0.0")]
    [InlineData("0e7")]
    [InlineData("1")]
    [InlineData("-1.03547")]
    [InlineData("0.121")]
    [InlineData("1e-3")]
    [InlineData("2.5E+10")]
    [InlineData("16777216")]
    [InlineData("16777217")]
    [InlineData("0.1000000000000000055511151231257827")]
    [InlineData("123456789012345678901234567890")]
    [InlineData("1e-50")]
    [InlineData("3.4028235e38")]
    [InlineData("1e0000000000000000001")]
    [InlineData("0.00000000000000000000000000000000000000000000140129846432481707")]
    [InlineData("7.038531e-26")]
    public void Numbers_read_as_the_general_reader_reads_them(string number) => AssertSameNumber(number);

    [Fact]
    public void Random_decimals_read_as_the_general_reader_reads_them()
    {
        var random = new Random(11);
        for (int i = 0; i < 300_000; i++)
        {
            // Short and long mantissas, small and large exponents, as written by people and by printers.
            int digits = random.Next(1, 12);
            var mantissa = string.Concat(Enumerable.Range(0, digits).Select(d => (char)('0' + random.Next(d == 0 ? 1 : 0, 10))));
            int point = random.Next(0, digits + 1);
            var text = point == digits ? mantissa : (point == 0 ? "0" : mantissa[..point]) + "." + mantissa[point..];
            if (random.Next(4) == 0) text += (random.Next(2) == 0 ? "e" : "E") + random.Next(-14, 14).ToString(CultureInfo.InvariantCulture);
            if (random.Next(2) == 0) text = "-" + text;
            AssertSameNumber(text);
        }
    }

    [Fact]
    public void Printed_floats_read_back_to_the_same_bits()
    {
        var random = new Random(12);
        for (int i = 0; i < 300_000; i++)
        {
            var value = BitConverter.Int32BitsToSingle(random.Next() ^ (random.Next(2) << 31));
            if (!float.IsFinite(value)) continue;
            AssertSameNumber(value.ToString(CultureInfo.InvariantCulture));
            AssertSameNumber(((double)value).ToString("R", CultureInfo.InvariantCulture));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("+1")]
    [InlineData(".5")]
    [InlineData("1.")]
    [InlineData("1.e5")]
    [InlineData("1e")]
    [InlineData("1e+")]
    [InlineData("--1")]
    [InlineData("x")]
    [InlineData("1e39")]
    [InlineData("-1e39")]
    public void Text_that_is_not_a_finite_json_float_is_declined(string text) => Assert.False(Compact(text + "]").Read);

    [Fact]
    public void A_number_ends_where_its_json_ends()
    {
        // "01" is "0" followed by "1": the caller finds no delimiter and declines the line.
        Assert.Equal((true, 0f, 1), Compact("01"));
        Assert.Equal((true, 2.5f, 3), Compact("2.5]"));
    }

    private static (bool Read, string Key, long Seq, StepFlags Flags, float[] X) Read(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        var x = new float[InputSize];
        bool read = CompactRecordReader.TryRead(bytes, x, out var key, out long seq, out var flags);
        return (read, read ? Encoding.ASCII.GetString(bytes.AsSpan()[key]) : "", seq, flags, x);
    }

    [Theory]
    [InlineData("""{"key":"sensor-7","seq":12,"x":[0.1,-2.5,3e-3],"reset":true,"end":true}""", "sensor-7", 12, StepFlags.HasSeq | StepFlags.Reset | StepFlags.End)]
    [InlineData("""{"x":[0.1,-2.5,3e-3],"end":false,"key":"sensor-7"}""", "sensor-7", 0, StepFlags.None)]
    [InlineData("""{"seq":-0,"reset":false,"key":"a b/c~!","x":[0.1,-2.5,0.003]}""", "a b/c~!", 0, StepFlags.HasSeq)]
    [InlineData("""{"key":"k","seq":999999999999999999,"x":[0.1,-2.5,3E-3],"reset":true}""", "k", 999_999_999_999_999_999, StepFlags.HasSeq | StepFlags.Reset)]
    public void Compact_records_are_read_whole(string line, string key, long seq, StepFlags flags)
    {
        var read = Read(line);
        Assert.True(read.Read);
        Assert.Equal((key, seq, flags), (read.Key, read.Seq, read.Flags));
        Assert.Equal(new[] { 0.1f, -2.5f, 3e-3f }, read.X);
    }

    [Theory]
    [InlineData("""{"key":"k","x":[1,2,3]} """)] // whitespace
    [InlineData(""" {"key":"k","x":[1,2,3]}""")]
    [InlineData("""{"key": "k","x":[1,2,3]}""")]
    [InlineData("""{"key":"k","x":[1, 2,3]}""")]
    [InlineData("""{"key":"k\"q","x":[1,2,3]}""")] // escapes, control characters, non-ASCII keys
    [InlineData("""{"key":"k\u0041","x":[1,2,3]}""")]
    [InlineData("{\"key\":\"k\u0001\",\"x\":[1,2,3]}")]
    [InlineData("""{"key":"Köln","x":[1,2,3]}""")]
    [InlineData("""{"key":"","x":[1,2,3]}""")] // empty or missing key, missing x
    [InlineData("""{"x":[1,2,3]}""")]
    [InlineData("""{"key":"k"}""")]
    [InlineData("""{"key":"k","x":[1,2]}""")] // wrong counts
    [InlineData("""{"key":"k","x":[1,2,3,4]}""")]
    [InlineData("""{"key":"k","x":[]}""")]
    [InlineData("""{"key":"k","x":[1,2,1e39]}""")] // not finite, not numbers
    [InlineData("""{"key":"k","x":[1,2,"3"]}""")]
    [InlineData("""{"key":"k","x":[1,2,null]}""")]
    [InlineData("""{"key":"k","x":[1,2,01]}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"key":"k"}""")] // a field twice
    [InlineData("""{"key":"k","x":[1,2,3],"x":[1,2,3]}""")]
    [InlineData("""{"key":"k","seq":1,"seq":2,"x":[1,2,3]}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"reset":true,"reset":false}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"end":true,"end":true}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"note":1}""")] // other fields
    [InlineData("""{"key":"k","x":[1,2,3],"seq":null}""")] // null, non-integer seq, non-boolean flags
    [InlineData("""{"key":"k","x":[1,2,3],"seq":1.0}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"seq":1e3}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"seq":1234567890123456789}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"seq":"1"}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"reset":1}""")]
    [InlineData("""{"key":"k","x":[1,2,3],"end":truex}""")]
    [InlineData("""{"key":"k","x":[1,2,3]}}""")] // not one object
    [InlineData("""{"key":"k","x":[1,2,3],}""")]
    [InlineData("""{"key":"k","x":[1,2,3]""")]
    [InlineData("""[{"key":"k","x":[1,2,3]}]""")]
    [InlineData("{}")]
    [InlineData("")]
    public void Anything_else_is_left_to_the_general_reader(string line) => Assert.False(Read(line).Read);

    [Fact]
    public void The_parser_gives_the_same_rows_through_either_reader()
    {
        // The same records written compactly (fast path) and with a space after every colon (general reader).
        var random = new Random(13);
        var parser = new NdjsonRecordParser(InputSize);
        var fast = StepBatch.Rent(2000, InputSize);
        var general = StepBatch.Rent(2000, InputSize);
        for (int i = 0; i < 2000; i++)
        {
            var x = Enumerable.Range(0, InputSize).Select(_ => (random.NextDouble() * 20 - 10).ToString(random.Next(2) == 0 ? "R" : "0.#####", CultureInfo.InvariantCulture));
            var fields = new List<string> { $"\"key\":\"s-{random.Next(50)}\"", $"\"x\":[{string.Join(",", x)}]" };
            if (random.Next(2) == 0) fields.Add($"\"seq\":{random.NextInt64(-1_000_000, 1_000_000_000_000)}");
            if (random.Next(3) == 0) fields.Add($"\"reset\":{(random.Next(2) == 0 ? "true" : "false")}");
            if (random.Next(3) == 0) fields.Add($"\"end\":{(random.Next(2) == 0 ? "true" : "false")}");
            var ordered = fields.OrderBy(_ => random.Next()).ToList();
            var compact = "{" + string.Join(",", ordered) + "}";
            Assert.True(CompactRecordReader.TryRead(Encoding.UTF8.GetBytes(compact), new float[InputSize], out _, out _, out _), compact);

            Assert.Equal(LineOutcome.Appended, parser.Parse(Encoding.UTF8.GetBytes(compact), i, fast, out _));
            Assert.Equal(LineOutcome.Appended, parser.Parse(Encoding.UTF8.GetBytes(compact.Replace("\":", "\": ")), i, general, out _));
        }

        Assert.Equal(ParsedRow.AllOf(general), ParsedRow.AllOf(fast));
    }
}
