using System.Text;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Records;

public sealed class NdjsonRecordParserTests
{
    private const int InputSize = 3;

    private static (LineOutcome Outcome, RecordError? Error, StepBatch Batch) ParseOne(string line, long lineNumber = 7)
        => ParseOne(Encoding.UTF8.GetBytes(line), lineNumber);

    private static (LineOutcome Outcome, RecordError? Error, StepBatch Batch) ParseOne(byte[] line, long lineNumber = 7,
        int maxKeyBytes = NdjsonRecordParser.DefaultMaxKeyBytes)
    {
        var parser = new NdjsonRecordParser(InputSize, maxKeyBytes: maxKeyBytes);
        var batch = StepBatch.Rent(4, InputSize);
        var outcome = parser.Parse(line, lineNumber, batch, out var error);
        return (outcome, error, batch);
    }

    [Fact]
    public void Full_record_fills_every_part_of_the_row()
    {
        var (outcome, error, batch) = ParseOne("""{"key":"sensor-7","seq":12,"x":[0.1,-2.5,3e-3],"reset":true,"end":true}""", 42);

        Assert.Equal(LineOutcome.Appended, outcome);
        Assert.Null(error);
        Assert.Equal(1, batch.Count);
        Assert.Equal("sensor-7", batch.Keys[0]);
        Assert.Equal(12, batch.Seq[0]);
        Assert.Equal(StepFlags.HasSeq | StepFlags.Reset | StepFlags.End, batch.Flags[0]);
        Assert.Equal(42, batch.Tags[0]);
        Assert.Equal(-1, batch.Slots[0]);
        Assert.Equal(new[] { 0.1f, -2.5f, 3e-3f }, batch.Row(0).ToArray());
    }

    [Fact]
    public void Optional_fields_absent_false_or_null_leave_no_flags()
    {
        foreach (var line in new[]
                 {
                     """{"key":"a","x":[1,2,3]}""",
                     """{"key":"a","x":[1,2,3],"seq":null,"reset":false,"end":null}""",
                     """{"key":"a","x":[1,2,3],"reset":null,"end":false}""",
                 })
        {
            var (outcome, _, batch) = ParseOne(line);
            Assert.Equal(LineOutcome.Appended, outcome);
            Assert.Equal(StepFlags.None, batch.Flags[0]);
            Assert.Equal(0, batch.Seq[0]);
        }
    }

    [Fact]
    public void Fields_come_in_any_order_and_unknown_fields_are_skipped()
    {
        var line = """ { "meta" : {"x":[9,9,9,9],"key":"wrong"}, "x" : [ 4 , 5 , 6 ] ,"tags":["key",1,{"a":[]}], "seq":-3, "key" : "b", "n":null, "end":true } """;
        var (outcome, error, batch) = ParseOne(line);

        Assert.Null(error);
        Assert.Equal(LineOutcome.Appended, outcome);
        Assert.Equal("b", batch.Keys[0]);
        Assert.Equal(-3, batch.Seq[0]);
        Assert.Equal(StepFlags.HasSeq | StepFlags.End, batch.Flags[0]);
        Assert.Equal(new[] { 4f, 5f, 6f }, batch.Row(0).ToArray());
    }

    [Fact]
    public void Escaped_property_names_are_recognised()
    {
        var (outcome, _, batch) = ParseOne("""{"\u006bey":"k","\u0078":[1,2,3],"s\u0065q":5}""");
        Assert.Equal(LineOutcome.Appended, outcome);
        Assert.Equal("k", batch.Keys[0]);
        Assert.Equal(5, batch.Seq[0]);
    }

    [Theory]
    [InlineData("""{"key":"k\u00e9","x":[1,2,3]}""", "k\u00e9")]
    [InlineData("""{"key":"q\"b\\s\/\n\t\u0001","x":[1,2,3]}""", "q\"b\\s/\n\t\u0001")]
    [InlineData("""{"key":"\ud83d\ude00 smile","x":[1,2,3]}""", "\U0001F600 smile")]
    [InlineData("""{"key":"Köln-🚗-東京","x":[1,2,3]}""", "Köln-🚗-東京")]
    public void Keys_are_unescaped_utf8(string line, string expected)
    {
        var (outcome, _, batch) = ParseOne(line);
        Assert.Equal(LineOutcome.Appended, outcome);
        Assert.Equal(expected, batch.Keys[0]);
    }

    [Fact]
    public void Long_key_beyond_the_stack_buffer_is_read_whole()
    {
        var key = string.Concat(Enumerable.Range(0, 300).Select(i => (char)('a' + i % 26))) + "\u00e9\\\"";
        var escaped = key.Replace("\\", "\\\\").Replace("\"", "\\\"");
        var (outcome, _, batch) = ParseOne(Encoding.UTF8.GetBytes($$"""{"key":"{{escaped}}","x":[1,2,3]}"""), maxKeyBytes: 1024);
        Assert.Equal(LineOutcome.Appended, outcome);
        Assert.Equal(key, batch.Keys[0]);
    }

    [Theory]
    [InlineData(256, true)]
    [InlineData(257, false)]
    public void Keys_up_to_the_limit_are_taken_and_longer_ones_rejected_with_their_length(int length, bool accepted)
    {
        // Compact form (the fast path) and the general path (a space after the colon) give the same answer.
        var key = new string('k', length);
        foreach (var line in new[] { $$"""{"key":"{{key}}","x":[1,2,3]}""", $$"""{"key": "{{key}}", "x": [1, 2, 3]}""" })
        {
            var (outcome, error, batch) = ParseOne(line, lineNumber: 12);
            if (accepted)
            {
                Assert.Equal(LineOutcome.Appended, outcome);
                Assert.Equal(key, batch.Keys[0]);
            }
            else
            {
                Assert.Equal(LineOutcome.Rejected, outcome);
                Assert.Equal(new RecordError(12, null, "key", "is 257 bytes long (UTF-8), more than the 256 bytes a key may have"), error);
                Assert.Equal(0, batch.Count);
            }
        }
    }

    [Fact]
    public void The_key_limit_counts_utf8_bytes_after_unescaping()
    {
        // 100 'é' are 200 UTF-8 bytes, written as 600 bytes of \u00e9 escapes: within a 200-byte limit, not a 199-byte one.
        var escaped = string.Concat(Enumerable.Repeat("\\u00e9", 100));
        var line = Encoding.UTF8.GetBytes($$"""{"key":"{{escaped}}","x":[1,2,3]}""");

        Assert.Equal(LineOutcome.Appended, ParseOne(line, maxKeyBytes: 200).Outcome);
        var (outcome, error, _) = ParseOne(line, maxKeyBytes: 199);
        Assert.Equal(LineOutcome.Rejected, outcome);
        Assert.Equal("is 200 bytes long (UTF-8), more than the 199 bytes a key may have", error!.Reason);
    }

    [Fact]
    public void A_megabyte_key_is_rejected_without_being_decoded()
    {
        var line = Encoding.UTF8.GetBytes($$"""{"key":"{{new string('k', 1 << 20)}}","x":[1,2,3]}""");
        ParseOne(line); // warm up: the first parse of a fresh parser allocates its caches

        long before = GC.GetAllocatedBytesForCurrentThread();
        var (outcome, error, _) = ParseOne(line);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(LineOutcome.Rejected, outcome);
        Assert.Equal(("key", "is longer than 256 bytes, the longest key accepted"), (error!.Field, error.Reason));
        Assert.True(allocated < 64 * 1024, $"rejecting the key allocated {allocated} bytes");
    }

    [Fact]
    public void Repeated_keys_are_interned_to_one_string()
    {
        var parser = new NdjsonRecordParser(InputSize);
        var batch = StepBatch.Rent(4, InputSize);
        parser.Parse("""{"key":"same","x":[1,2,3]}"""u8, 1, batch, out _);
        parser.Parse("""{"key":"s\u0061me","x":[1,2,3]}"""u8, 2, batch, out _);
        parser.Parse("""{"key":"other","x":[1,2,3]}"""u8, 3, batch, out _);

        Assert.Same(batch.Keys[0], batch.Keys[1]);
        Assert.Equal("other", batch.Keys[2]);
    }

    [Fact]
    public void A_small_key_cache_still_gives_the_right_keys()
    {
        var parser = new NdjsonRecordParser(InputSize, keyCacheSize: 2);
        var batch = StepBatch.Rent(64, InputSize);
        for (var i = 0; i < 64; i++)
        {
            var outcome = parser.Parse(Encoding.UTF8.GetBytes($$"""{"key":"k{{i % 5}}","x":[{{i}},0,0]}"""), i + 1, batch, out _);
            Assert.Equal(LineOutcome.Appended, outcome);
        }

        for (var i = 0; i < 64; i++)
        {
            Assert.Equal($"k{i % 5}", batch.Keys[i]);
            Assert.Equal(i, batch.Row(i)[0]);
        }
    }

    [Theory]
    [InlineData("0.1", 0.1f)]
    [InlineData("-0", -0f)]
    [InlineData("1e-45", float.Epsilon)]
    [InlineData("1.17549435E-38", 1.17549435E-38f)]
    [InlineData("3.4028235e38", float.MaxValue)]
    [InlineData("-3.4028235E+38", float.MinValue)]
    [InlineData("1e-50", 0f)]
    [InlineData("16777217", 16777216f)]
    [InlineData("0.30000001192092896", 0.3f)]
    public void Numbers_parse_to_the_nearest_float(string text, float expected)
    {
        var (outcome, _, batch) = ParseOne($$"""{"key":"a","x":[{{text}},0,0]}""");
        Assert.Equal(LineOutcome.Appended, outcome);
        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(batch.Row(0)[0]));
    }

    [Theory]
    [InlineData(9223372036854775807L)]
    [InlineData(-9223372036854775808L)]
    [InlineData(0L)]
    public void Seq_takes_the_whole_int64_range(long seq)
    {
        var (outcome, _, batch) = ParseOne($$"""{"key":"a","seq":{{seq}},"x":[1,2,3]}""");
        Assert.Equal(LineOutcome.Appended, outcome);
        Assert.Equal(seq, batch.Seq[0]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t \r")]
    public void Blank_lines_are_skipped_without_error(string line)
    {
        var (outcome, error, batch) = ParseOne(line);
        Assert.Equal(LineOutcome.Blank, outcome);
        Assert.Null(error);
        Assert.Equal(0, batch.Count);
    }

    [Theory]
    // line, key (null: unknown), field (null: whole line), reason (exact, or a prefix ending in "…")
    [InlineData("not json", null, null, "not valid JSON at column 2: …")]
    [InlineData("""{"key":"a","x":[1,2,3]} garbage""", "a", null, "trailing content after the JSON object")]
    [InlineData("""{"key":"a","x":[1,2,3]}{"key":"b","x":[1,2,3]}""", "a", null, "trailing content after the JSON object")]
    [InlineData("""{"key":"a","x":[1,2,3]} // comment""", "a", null, "trailing content after the JSON object")]
    [InlineData("[1,2,3]", null, null, "not a JSON object but an array")]
    [InlineData("\"text\"", null, null, "not a JSON object but a string")]
    [InlineData("12", null, null, "not a JSON object but a number")]
    [InlineData("null", null, null, "not a JSON object but null")]
    [InlineData("""{"key":"a","x":[1,2,3]""", "a", null, "not valid JSON at column 23: …")]
    [InlineData("""{"key":"a" "x":[1,2,3]}""", "a", null, "not valid JSON at column 12: …")]
    [InlineData("""{"key":"a","x":[1,2,3],}""", "a", null, "not valid JSON at column 24: …")]
    [InlineData("""{key:"a","x":[1,2,3]}""", null, null, "not valid JSON at column 2: …")]
    [InlineData("""{"x":[1,2,3]}""", null, "key", "missing")]
    [InlineData("""{"x":[1,2,3],"seq":4}""", null, "key", "missing")]
    [InlineData("""{"key":"","x":[1,2,3]}""", null, "key", "must not be empty")]
    [InlineData("""{"key":7,"x":[1,2,3]}""", null, "key", "must be a string, not a number")]
    [InlineData("""{"key":null,"x":[1,2,3]}""", null, "key", "must be a string, not null")]
    [InlineData("""{"key":["a"],"x":[1,2,3]}""", null, "key", "must be a string, not an array")]
    [InlineData("""{"key":{"id":"a"},"x":[1,2,3]}""", null, "key", "must be a string, not an object")]
    [InlineData("""{"key":"\ud800","x":[1,2,3]}""", null, "key", "is not valid UTF-8 / Unicode text")]
    [InlineData("""{"key":"a","x":[1,2,3],"key":"b"}""", "a", "key", "given more than once")]
    [InlineData("""{"key":"a"}""", "a", "x", "missing")]
    [InlineData("""{"key":"a","x":null}""", "a", "x", "must be an array of numbers, not null")]
    [InlineData("""{"key":"a","x":"1,2,3"}""", "a", "x", "must be an array of numbers, not a string")]
    [InlineData("""{"key":"a","x":{"0":1}}""", "a", "x", "must be an array of numbers, not an object")]
    [InlineData("""{"key":"a","x":1}""", "a", "x", "must be an array of numbers, not a number")]
    [InlineData("""{"key":"a","x":[1,2]}""", "a", "x", "has 2 values, the model's input size is 3")]
    [InlineData("""{"key":"a","x":[1,2,3,4]}""", "a", "x", "has 4 values, the model's input size is 3")]
    [InlineData("""{"key":"a","x":[1]}""", "a", "x", "has 1 value, the model's input size is 3")]
    [InlineData("""{"key":"a","x":[]}""", "a", "x", "has 0 values, the model's input size is 3")]
    [InlineData("""{"key":"a","x":[1,2,3],"x":[1,2,3]}""", "a", "x", "given more than once")]
    [InlineData("""{"key":"a","x":[1,"2",3]}""", "a", "x", "x[1] is the string \"2\", not a number")]
    [InlineData("""{"key":"a","x":[1,2,"NaN"]}""", "a", "x", "x[2] is the string \"NaN\", not a number")]
    [InlineData("""{"key":"a","x":["Infinity",2,3]}""", "a", "x", "x[0] is the string \"Infinity\", not a number")]
    [InlineData("""{"key":"a","x":[1,null,3]}""", "a", "x", "x[1] is null, not a number")]
    [InlineData("""{"key":"a","x":[1,true,3]}""", "a", "x", "x[1] is true, not a number")]
    [InlineData("""{"key":"a","x":[1,[2],3]}""", "a", "x", "x[1] is an array, not a number")]
    [InlineData("""{"key":"a","x":[1,{"v":2},3]}""", "a", "x", "x[1] is an object, not a number")]
    [InlineData("""{"key":"a","x":[1,1e999,3]}""", "a", "x", "x[1] = 1e999 is not a finite 32-bit float")]
    [InlineData("""{"key":"a","x":[1,2,-1e39]}""", "a", "x", "x[2] = -1e39 is not a finite 32-bit float")]
    [InlineData("""{"key":"a","x":[1,2,3.5e38]}""", "a", "x", "x[2] = 3.5e38 is not a finite 32-bit float")]
    [InlineData("""{"key":"a","x":[1,NaN,3]}""", "a", "x", "not valid JSON at column 19: …")]
    [InlineData("""{"key":"a","x":[1,2,Infinity]}""", "a", "x", "not valid JSON at column 21: …")]
    [InlineData("""{"key":"a","x":[1,2,-Infinity]}""", "a", "x", "not valid JSON at column 22: …")]
    [InlineData("""{"key":"a","x":[1,2,3],"seq":1.5}""", "a", "seq", "must be a 64-bit integer, not 1.5")]
    [InlineData("""{"key":"a","x":[1,2,3],"seq":1e3}""", "a", "seq", "must be a 64-bit integer, not 1e3")]
    [InlineData("""{"key":"a","x":[1,2,3],"seq":9223372036854775808}""", "a", "seq", "must be a 64-bit integer, not 9223372036854775808")]
    [InlineData("""{"key":"a","x":[1,2,3],"seq":"12"}""", "a", "seq", "must be an integer, not a string")]
    [InlineData("""{"key":"a","x":[1,2,3],"seq":true}""", "a", "seq", "must be an integer, not true")]
    [InlineData("""{"key":"a","x":[1,2,3],"seq":1,"seq":2}""", "a", "seq", "given more than once")]
    [InlineData("""{"key":"a","x":[1,2,3],"reset":1}""", "a", "reset", "must be true or false, not a number")]
    [InlineData("""{"key":"a","x":[1,2,3],"reset":"true"}""", "a", "reset", "must be true or false, not a string")]
    [InlineData("""{"key":"a","x":[1,2,3],"end":"yes"}""", "a", "end", "must be true or false, not a string")]
    [InlineData("""{"key":"a","x":[1,2,3],"end":[true]}""", "a", "end", "must be true or false, not an array")]
    [InlineData("""{"key":"a","x":[1,2,3],"end":true,"end":false}""", "a", "end", "given more than once")]
    [InlineData("""{"x":[1,2],"key":"late"}""", "late", "x", "has 2 values, the model's input size is 3")]
    [InlineData("""{"x":[1,"a",3],"seq":"s","key":"late"}""", "late", "x", "x[1] is the string \"a\", not a number")]
    public void Bad_line_is_rejected_with_line_key_field_and_reason(string line, string? key, string? field, string reason)
    {
        var (outcome, error, batch) = ParseOne(line, lineNumber: 12345);

        Assert.Equal(LineOutcome.Rejected, outcome);
        Assert.NotNull(error);
        Assert.Equal(12345, error.Line);
        Assert.Equal(key, error.Key);
        Assert.Equal(field, error.Field);
        if (reason.EndsWith('…')) Assert.StartsWith(reason[..^1], error.Reason);
        else Assert.Equal(reason, error.Reason);
        Assert.Equal(0, batch.Count);
    }

    [Fact]
    public void Invalid_utf8_in_the_key_is_rejected()
    {
        var line = Encoding.UTF8.GetBytes("""{"key":"ab#","x":[1,2,3]}""");
        line[Array.IndexOf(line, (byte)'#')] = 0xFF;
        var (outcome, error, _) = ParseOne(line);

        Assert.Equal(LineOutcome.Rejected, outcome);
        Assert.Equal("key", error!.Field);
        Assert.Equal("is not valid UTF-8 / Unicode text", error.Reason);
    }

    [Fact]
    public void A_rejected_line_leaves_earlier_rows_untouched_and_the_next_line_takes_its_place()
    {
        var parser = new NdjsonRecordParser(InputSize);
        var batch = StepBatch.Rent(4, InputSize);
        Assert.Equal(LineOutcome.Appended, parser.Parse("""{"key":"a","x":[1,2,3]}"""u8, 1, batch, out _));
        Assert.Equal(LineOutcome.Rejected, parser.Parse("""{"key":"b","x":[7,8,9,10]}"""u8, 2, batch, out _));
        Assert.Equal(LineOutcome.Rejected, parser.Parse("""{"key":"b","x":[7,8,9],"seq":"x"}"""u8, 3, batch, out _));
        Assert.Equal(LineOutcome.Appended, parser.Parse("""{"key":"c","x":[4,5,6]}"""u8, 4, batch, out _));

        Assert.Equal(2, batch.Count);
        Assert.Equal(new ParsedRow("a", 0, StepFlags.None, 1, [1, 2, 3]), ParsedRow.Of(batch, 0));
        Assert.Equal(new ParsedRow("c", 0, StepFlags.None, 4, [4, 5, 6]), ParsedRow.Of(batch, 1));
    }

    [Fact]
    public void Deeply_nested_unknown_field_is_a_json_error_not_a_crash()
    {
        var nested = new string('[', 200) + new string(']', 200);
        var (outcome, error, _) = ParseOne($$"""{"key":"a","x":[1,2,3],"deep":{{nested}}}""");
        Assert.Equal(LineOutcome.Rejected, outcome);
        Assert.StartsWith("not valid JSON", error!.Reason);
    }

    [Fact]
    public void Batch_of_another_width_is_refused()
    {
        var parser = new NdjsonRecordParser(InputSize);
        var batch = StepBatch.Rent(4, InputSize + 1);
        Assert.Throws<ArgumentException>(() => parser.Parse("""{"key":"a","x":[1,2,3]}"""u8, 1, batch, out _));
    }
}
