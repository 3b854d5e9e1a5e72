using LstmStream.Hosting.Options;

namespace LstmStream.Tests.Options;

public sealed class MqttTopicsTests
{
    [Theory]
    [InlineData("sensors/+/reading", "sensors/k1/reading", true)]
    [InlineData("sensors/+/reading", "sensors//reading", true)]
    [InlineData("sensors/+/reading", "sensors/k1/other", false)]
    [InlineData("sensors/+/reading", "sensors/k1/reading/x", false)]
    [InlineData("sensors/+/reading", "sensors/k1", false)]
    [InlineData("sensors/#", "sensors", true)]
    [InlineData("sensors/#", "sensors/a/b/c", true)]
    [InlineData("#", "anything/at/all", true)]
    [InlineData("lstm/errors", "lstm/errors", true)]
    [InlineData("lstm/errors", "lstm/Errors", false)]
    public void Filters_match_topics_as_mqtt_does(string filter, string topic, bool matches) =>
        Assert.Equal(matches, MqttTopics.Matches(filter, topic));

    [Theory]
    [InlineData("sensors/k1/reading", 0, "sensors")]
    [InlineData("sensors/k1/reading", 1, "k1")]
    [InlineData("sensors/k1/reading", 2, "reading")]
    [InlineData("sensors//reading", 1, "")]
    [InlineData("single", 0, "single")]
    public void Levels_are_read_without_allocating(string topic, int level, string expected)
    {
        Assert.True(MqttTopics.TryGetLevel(topic, level, out var value));
        Assert.Equal(expected, value.ToString());
    }

    [Fact]
    public void A_missing_level_is_reported()
    {
        Assert.False(MqttTopics.TryGetLevel("sensors/k1", 2, out _));
        Assert.False(MqttTopics.TryGetLevel("", 1, out _));
    }

    [Theory]
    [InlineData("k1", true)]
    [InlineData("sensor-7.a_b", true)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("a+", false)]
    [InlineData("#", false)]
    public void Keys_that_cannot_be_one_topic_level_are_recognised(string key, bool valid) =>
        Assert.Equal(valid, MqttTopics.IsValidKeyLevel(key));
}
