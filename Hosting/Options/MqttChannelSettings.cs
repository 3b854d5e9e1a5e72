
namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Mqtt</c>: readings from an MQTT broker, outputs published back to it.</summary>
public sealed class MqttChannelSettings
{
    /// <summary>Off by default: the broker is an external server.</summary>
    public bool Enabled { get; set; }

    /// <summary>Readings accepted but not yet published as outputs; at the limit the subscription waits.</summary>
    public int MaxInFlightRecords { get; set; } = 4096;

    /// <summary>Broker, topics and QoS (<c>LstmStream:Mqtt:Client:Host</c>, <c>…:TopicFilter</c>, …).</summary>
    public MqttClientSettings Client { get; set; } = new();
}
