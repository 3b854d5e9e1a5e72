
namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Mqtt</c>: readings from an MQTT broker, outputs published back to it.</summary>
public sealed class MqttChannelSettings
{
    /// <summary>Off by default: the broker is an external server.</summary>
    public bool Enabled { get; set; }

    /// <summary>Readings accepted but not yet published as outputs; at the limit the subscription waits.</summary>
    public int MaxInFlightRecords { get; set; } = 4096;

    /// <summary>
    /// When readings are acknowledged to the broker; unset: <see cref="MqttAcknowledgement.AfterCheckpoint"/> with a
    /// session store, QoS 1/2 and a persistent session, else <see cref="MqttAcknowledgement.OnReceipt"/>.
    /// </summary>
    public MqttAcknowledgement? Acknowledge { get; set; }

    /// <summary>The acknowledgement in effect, given whether a session store is configured.</summary>
    public MqttAcknowledgement AcknowledgeWith(bool sessionStore) =>
        Acknowledge ?? (sessionStore && Client.Qos > 0 && Client.PersistentSession ? MqttAcknowledgement.AfterCheckpoint : MqttAcknowledgement.OnReceipt);

    /// <summary>Broker, topics and QoS (<c>LstmStream:Mqtt:Client:Host</c>, <c>…:TopicFilter</c>, …).</summary>
    public MqttClientSettings Client { get; set; } = new();
}
