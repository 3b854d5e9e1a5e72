using System.Text;
using System.Text.Json;
using LstmStream.Hosting.Channels.Mqtt;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>MQTT payloads: records whose key comes from the topic (<see cref="NdjsonRecordParser.ParseWithKey"/>), and error payloads.</summary>
public sealed class KeyGivenRecordParsingTests
{
    private readonly NdjsonRecordParser _parser = new(3);

    private LineOutcome Parse(string payload, string key, long tag, StepBatch batch, out RecordError? error) =>
        _parser.ParseWithKey(Encoding.UTF8.GetBytes(payload), key, tag, batch, out error);

    [Fact]
    public void The_given_key_tag_seq_flags_and_vector_fill_the_row()
    {
        var batch = StepBatch.Rent(4, 3);
        try
        {
            Assert.Equal(LineOutcome.Appended, Parse("""{"seq":12,"x":[0.5,-1,2e-3],"reset":true,"end":true}""", "sensor-7", 41, batch, out var error));
            Assert.Null(error);
            Assert.Equal(1, batch.Count);
            Assert.Equal("sensor-7", batch.Keys[0]);
            Assert.Equal(12, batch.Seq[0]);
            Assert.Equal(41, batch.Tags[0]);
            Assert.Equal(StepFlags.HasSeq | StepFlags.Reset | StepFlags.End, batch.Flags[0]);
            Assert.Equal([0.5f, -1f, 2e-3f], batch.Row(0).ToArray());
        }
        finally
        {
            batch.Release();
        }
    }

    [Fact]
    public void A_given_key_longer_than_the_limit_is_rejected_with_its_length()
    {
        var batch = StepBatch.Rent(4, 3);
        try
        {
            var key = new string('t', 300);
            Assert.Equal(LineOutcome.Rejected, Parse("""{"x":[1,2,3]}""", key, 5, batch, out var error));
            Assert.Equal(new RecordError(5, null, "key", "is 300 bytes long (UTF-8), more than the 256 bytes a key may have"), error);
            Assert.Equal(0, batch.Count);
        }
        finally
        {
            batch.Release();
        }
    }

    [Fact]
    public void The_given_key_is_interned_and_seq_is_optional()
    {
        var batch = StepBatch.Rent(4, 3);
        try
        {
            var key = "k".ToCharArray();
            Assert.Equal(LineOutcome.Appended, _parser.ParseWithKey("""{"x":[1,2,3]}"""u8, key, 1, batch, out _));
            Assert.Equal(LineOutcome.Appended, _parser.ParseWithKey("""{"x":[4,5,6]}"""u8, key, 2, batch, out _));
            Assert.Same(batch.Keys[0], batch.Keys[1]);
            Assert.Equal(StepFlags.None, batch.Flags[1]);
        }
        finally
        {
            batch.Release();
        }
    }

    [Fact]
    public void A_key_field_equal_to_the_given_key_is_accepted()
    {
        var batch = StepBatch.Rent(1, 3);
        try
        {
            Assert.Equal(LineOutcome.Appended, Parse("""{"key":"a\u0062","x":[1,2,3]}""", "ab", 1, batch, out var error));
            Assert.Null(error);
            Assert.Equal("ab", batch.Keys[0]);
        }
        finally
        {
            batch.Release();
        }
    }

    [Theory]
    [InlineData("""{"key":"other","x":[1,2,3]}""", "k", "key", "is \"other\" but the record's source gives the key 'k'")]
    [InlineData("""{"key":7,"x":[1,2,3]}""", "k", "key", "must be a string, not a number")]
    [InlineData("""{"seq":1,"x":[1,2]}""", "k", "x", "has 2 values, the model's input size is 3")]
    [InlineData("""{"seq":1}""", "k", "x", "missing")]
    [InlineData("""[1,2,3]""", "k", null, "not a JSON object but an array")]
    [InlineData("""{"seq":1,"x":[1,2,3]}""", "", "key", "must not be empty")]
    public void A_bad_record_is_rejected_with_the_tag_key_field_and_reason(string payload, string key, string? field, string reason)
    {
        var batch = StepBatch.Rent(1, 3);
        try
        {
            Assert.Equal(LineOutcome.Rejected, Parse(payload, key, 9, batch, out var error));
            Assert.Equal(0, batch.Count);
            Assert.Equal(new RecordError(9, key == "" ? null : key, field, reason), error);
        }
        finally
        {
            batch.Release();
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \r\n")]
    public void An_empty_payload_is_blank(string payload)
    {
        var batch = StepBatch.Rent(1, 3);
        try
        {
            Assert.Equal(LineOutcome.Blank, Parse(payload, "k", 1, batch, out var error));
            Assert.Null(error);
            Assert.Equal(0, batch.Count);
        }
        finally
        {
            batch.Release();
        }
    }

    [Fact]
    public void Error_payloads_are_the_run_error_record_with_the_topic()
    {
        var payload = MqttErrorMessage.Format(new RecordError(12, "k\"1", "x", "has 2 values"), "sensors/k\"1/reading");
        Assert.NotEqual((byte)'\n', payload[^1]);
        using var json = JsonDocument.Parse(payload);
        var root = json.RootElement;
        Assert.Equal("has 2 values", root.GetProperty("error").GetString());
        Assert.Equal(12, root.GetProperty("line").GetInt64());
        Assert.Equal("k\"1", root.GetProperty("key").GetString());
        Assert.Equal("x", root.GetProperty("field").GetString());
        Assert.Equal("sensors/k\"1/reading", root.GetProperty("topic").GetString());

        using var bare = JsonDocument.Parse(MqttErrorMessage.Format(new RecordError(3, null, null, "not valid JSON"), "t"));
        Assert.False(bare.RootElement.TryGetProperty("key", out _));
        Assert.False(bare.RootElement.TryGetProperty("field", out _));
        Assert.Equal("t", bare.RootElement.GetProperty("topic").GetString());
    }
}
