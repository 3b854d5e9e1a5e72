using System.Buffers;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Records;

namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// The payload published to <see cref="MqttClientSettings.ErrorTopic"/> for a rejected reading: the error record of
/// the <c>run</c> verb with the topic the reading came on,
/// <c>{"error":"…","line":N,"key":"k","field":"x","topic":"sensors/k/reading"}</c>, where <c>line</c> is
/// the ingress's running record number and <c>key</c>/<c>field</c> appear only when known.
/// </summary>
public static class MqttErrorMessage
{
    /// <summary>The UTF-8 JSON payload (no newline) for <paramref name="error"/> of a message on <paramref name="topic"/>.</summary>
    public static byte[] Format(RecordError error, string topic)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(topic);
        var record = new ArrayBufferWriter<byte>(128);
        NdjsonOutputFormatter.WriteError(error, record);
        // The record ends with "}\n": reopen the object to add the topic.
        var head = record.WrittenSpan[..^2];
        var payload = new byte[head.Length + 9 + NdjsonOutputFormatter.MaxStringBytes(topic.Length) + 1];
        head.CopyTo(payload);
        var n = head.Length;
        ",\"topic\":"u8.CopyTo(payload.AsSpan(n));
        n += 9;
        n += NdjsonOutputFormatter.WriteString(topic, payload.AsSpan(n));
        payload[n++] = (byte)'}';
        return payload[..n];
    }
}
