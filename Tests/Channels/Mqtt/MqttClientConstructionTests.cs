using LstmStream.Hosting.Channels.Mqtt;
using LstmStream.Hosting.Options;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Channels.Mqtt;

public sealed class MqttClientConstructionTests
{
    [Fact]
    public void The_channels_refuse_bad_options_before_connecting()
    {
        var logger = new ListLogger();
        Assert.Equal(nameof(MqttClientSettings.Qos), Assert.Throws<ArgumentException>(() => new MqttRecordIngress(new MqttClientSettings { Qos = 5 }, 3, logger)).ParamName);
        Assert.Equal(nameof(MqttClientSettings.Port), Assert.Throws<ArgumentException>(() => new MqttOutputPublisher(new MqttClientSettings { Port = -2 }, logger)).ParamName);
    }
}
