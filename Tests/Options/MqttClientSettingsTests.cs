using LstmStream.Hosting.Options;

namespace LstmStream.Tests.Options;

public sealed class MqttClientSettingsTests
{
    [Fact]
    public void Defaults_are_valid_and_take_the_key_from_the_plus_level()
    {
        var options = new MqttClientSettings();
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
        var options = new MqttClientSettings { TopicFilter = filter, KeyLevel = keyLevel };
        options.Validate();
        Assert.Equal(expected, options.EffectiveKeyLevel);
    }

    public static TheoryData<MqttClientSettings, string, string> BadOptions() => new()
    {
        { new MqttClientSettings { Host = " " }, nameof(MqttClientSettings.Host), "host" },
        { new MqttClientSettings { Port = 0 }, nameof(MqttClientSettings.Port), "got 0" },
        { new MqttClientSettings { Port = 70000 }, nameof(MqttClientSettings.Port), "got 70000" },
        { new MqttClientSettings { ClientId = "" }, nameof(MqttClientSettings.ClientId), "empty" },
        { new MqttClientSettings { Qos = 3 }, nameof(MqttClientSettings.Qos), "0, 1 or 2, got 3" },
        { new MqttClientSettings { Qos = -1 }, nameof(MqttClientSettings.Qos), "got -1" },
        { new MqttClientSettings { ReconnectDelay = TimeSpan.Zero }, nameof(MqttClientSettings.ReconnectDelay), "positive" },
        { new MqttClientSettings { KeepAlive = TimeSpan.FromSeconds(-1) }, nameof(MqttClientSettings.KeepAlive), "positive" },
        { new MqttClientSettings { IngressBuffer = 0 }, nameof(MqttClientSettings.IngressBuffer), "positive" },
        { new MqttClientSettings { TopicFilter = "" }, nameof(MqttClientSettings.TopicFilter), "empty" },
        { new MqttClientSettings { TopicFilter = "sensors/#/reading" }, nameof(MqttClientSettings.TopicFilter), "'#' must be the last level" },
        { new MqttClientSettings { TopicFilter = "sensors/a+/reading" }, nameof(MqttClientSettings.TopicFilter), "level 1 ('a+')" },
        { new MqttClientSettings { TopicFilter = "sensors/all/reading" }, nameof(MqttClientSettings.KeyLevel), "no '+' level" },
        { new MqttClientSettings { KeyLevel = 0 }, nameof(MqttClientSettings.KeyLevel), "level 0 of 'sensors/+/reading' is 'sensors'" },
        { new MqttClientSettings { KeyLevel = 5 }, nameof(MqttClientSettings.KeyLevel), "beyond its end" },
        { new MqttClientSettings { KeyLevel = -1 }, nameof(MqttClientSettings.KeyLevel), "negative" },
        { new MqttClientSettings { OutputTopicTemplate = "lstm/output" }, nameof(MqttClientSettings.OutputTopicTemplate), "must contain {key}" },
        { new MqttClientSettings { OutputTopicTemplate = "lstm/+/{key}" }, nameof(MqttClientSettings.OutputTopicTemplate), "must not contain '+'" },
        { new MqttClientSettings { OutputTopicTemplate = "sensors/{key}/reading" }, nameof(MqttClientSettings.OutputTopicTemplate), "outputs would come back" },
        { new MqttClientSettings { ErrorTopic = "" }, nameof(MqttClientSettings.ErrorTopic), "empty" },
        { new MqttClientSettings { ErrorTopic = "lstm/#" }, nameof(MqttClientSettings.ErrorTopic), "must not contain" },
        { new MqttClientSettings { TopicFilter = "#", KeyLevel = 1 }, nameof(MqttClientSettings.OutputTopicTemplate), "outputs would come back" },
        { new MqttClientSettings { ErrorTopic = "sensors/errors/reading" }, nameof(MqttClientSettings.ErrorTopic), "errors would come back" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void A_bad_setting_is_refused_with_its_name_and_the_reason(MqttClientSettings options, string setting, string reason)
    {
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(setting, error.ParamName);
        Assert.StartsWith($"Mqtt:{setting} ", error.Message);
        Assert.Contains(reason, error.Message);
    }
}
