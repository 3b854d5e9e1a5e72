using LstmStream.Hosting.Channels.Mqtt;

namespace LstmStream.Tests.Mqtt;

public sealed class MqttOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_take_the_key_from_the_plus_level()
    {
        var options = new MqttOptions();
        options.Validate();
        Assert.Equal("sensors/+/reading", options.TopicFilter);
        Assert.Equal("lstm/{key}/output", options.OutputTopicTemplate);
        Assert.Equal("lstm/errors", options.ErrorTopic);
        Assert.Equal(1, options.Qos);
        Assert.Equal(1, options.EffectiveKeyLevel);
    }

    [Theory]
    [InlineData("a/b/+/c", null, 2)]
    [InlineData("+/x/+", null, 0)]
    [InlineData("+/x/+", 2, 2)]
    [InlineData("site/#", 3, 3)]
    public void The_key_level_is_the_given_one_or_the_first_plus(string filter, int? keyLevel, int expected)
    {
        var options = new MqttOptions { TopicFilter = filter, KeyLevel = keyLevel };
        options.Validate();
        Assert.Equal(expected, options.EffectiveKeyLevel);
    }

    public static TheoryData<MqttOptions, string, string> BadOptions() => new()
    {
        { new MqttOptions { Host = " " }, nameof(MqttOptions.Host), "host" },
        { new MqttOptions { Port = 0 }, nameof(MqttOptions.Port), "got 0" },
        { new MqttOptions { Port = 70000 }, nameof(MqttOptions.Port), "got 70000" },
        { new MqttOptions { ClientId = "" }, nameof(MqttOptions.ClientId), "empty" },
        { new MqttOptions { Qos = 3 }, nameof(MqttOptions.Qos), "0, 1 or 2, got 3" },
        { new MqttOptions { Qos = -1 }, nameof(MqttOptions.Qos), "got -1" },
        { new MqttOptions { ReconnectDelay = TimeSpan.Zero }, nameof(MqttOptions.ReconnectDelay), "positive" },
        { new MqttOptions { KeepAlive = TimeSpan.FromSeconds(-1) }, nameof(MqttOptions.KeepAlive), "positive" },
        { new MqttOptions { IngressBuffer = 0 }, nameof(MqttOptions.IngressBuffer), "positive" },
        { new MqttOptions { TopicFilter = "" }, nameof(MqttOptions.TopicFilter), "empty" },
        { new MqttOptions { TopicFilter = "sensors/#/reading" }, nameof(MqttOptions.TopicFilter), "'#' must be the last level" },
        { new MqttOptions { TopicFilter = "sensors/a+/reading" }, nameof(MqttOptions.TopicFilter), "level 1 ('a+')" },
        { new MqttOptions { TopicFilter = "sensors/all/reading" }, nameof(MqttOptions.KeyLevel), "no '+' level" },
        { new MqttOptions { KeyLevel = 0 }, nameof(MqttOptions.KeyLevel), "level 0 of 'sensors/+/reading' is 'sensors'" },
        { new MqttOptions { KeyLevel = 5 }, nameof(MqttOptions.KeyLevel), "beyond its end" },
        { new MqttOptions { KeyLevel = -1 }, nameof(MqttOptions.KeyLevel), "negative" },
        { new MqttOptions { OutputTopicTemplate = "lstm/output" }, nameof(MqttOptions.OutputTopicTemplate), "must contain {key}" },
        { new MqttOptions { OutputTopicTemplate = "lstm/+/{key}" }, nameof(MqttOptions.OutputTopicTemplate), "must not contain '+'" },
        { new MqttOptions { OutputTopicTemplate = "sensors/{key}/reading" }, nameof(MqttOptions.OutputTopicTemplate), "outputs would come back" },
        { new MqttOptions { ErrorTopic = "" }, nameof(MqttOptions.ErrorTopic), "empty" },
        { new MqttOptions { ErrorTopic = "lstm/#" }, nameof(MqttOptions.ErrorTopic), "must not contain" },
        { new MqttOptions { TopicFilter = "#", KeyLevel = 1 }, nameof(MqttOptions.OutputTopicTemplate), "outputs would come back" },
        { new MqttOptions { ErrorTopic = "sensors/errors/reading" }, nameof(MqttOptions.ErrorTopic), "errors would come back" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void A_bad_setting_is_refused_with_its_name_and_the_reason(MqttOptions options, string setting, string reason)
    {
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(setting, error.ParamName);
        Assert.StartsWith($"Mqtt:{setting} ", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void The_channels_refuse_bad_options_before_connecting()
    {
        var logger = new ListLogger();
        Assert.Equal(nameof(MqttOptions.Qos), Assert.Throws<ArgumentException>(() => new MqttRecordIngress(new MqttOptions { Qos = 5 }, 3, logger)).ParamName);
        Assert.Equal(nameof(MqttOptions.Port), Assert.Throws<ArgumentException>(() => new MqttOutputPublisher(new MqttOptions { Port = -2 }, logger)).ParamName);
    }
}
