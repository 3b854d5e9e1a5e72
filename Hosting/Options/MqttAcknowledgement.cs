namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Mqtt:Acknowledge</c>: when a QoS 1/2 reading is acknowledged to the broker.</summary>
public enum MqttAcknowledgement
{
    /// <summary>
    /// Once the checkpoint covering it is written to the session store (and its output published): after a crash the
    /// broker delivers again what the store does not hold, and <c>seq</c> answers the rest as duplicates. Needs a session
    /// store, QoS 1 or 2 and a persistent session.
    /// </summary>
    AfterCheckpoint,

    /// <summary>As soon as it is buffered for the pipeline: a crash loses the effect of the readings since the last checkpoint.</summary>
    OnReceipt,
}
