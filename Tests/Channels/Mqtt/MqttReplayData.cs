using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LstmStream.Tests.Service;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>One output as published: a y (its JSON text: equal text is equal bits) or a duplicate answer.</summary>
internal sealed record ReplayOutput(string Key, long Seq, string? Y)
{
    public bool IsDuplicate => Y is null;
}

/// <summary>
/// Readings with <c>seq</c> for several keys, the same over MQTT (payload, key from the topic) and over TCP (a line with its
/// key), for the acknowledgement and replay tests of <c>serve</c>; settings that point <c>serve</c> at a broker under a
/// topic prefix of the test's own; the service's metrics and key states over HTTP.
/// </summary>
internal static partial class MqttReplayData
{
    public static readonly TimeSpan ReplayTimeout = TimeSpan.FromSeconds(120);

    public static string Key(int k) => $"s{k}";

    public static float[] X(int k, long seq) =>
        [MathF.Sin(0.37f * seq + k), 0.1f * k - 0.5f, MathF.Cos(0.11f * seq * (k + 1)), 0.01f * (seq % 17) - 0.05f * k];

    /// <summary>The MQTT payload of key <paramref name="k"/>'s reading <paramref name="seq"/>.</summary>
    public static string Payload(int k, long seq) =>
        $"{{\"seq\":{seq},\"x\":[{string.Join(',', X(k, seq).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}]}}";

    /// <summary>The same reading as a TCP line.</summary>
    public static string Line(int k, long seq) => NdjsonClient.Record(Key(k), seq, X(k, seq));

    /// <summary>Settings of <c>serve</c>'s MQTT channel: the broker, a fixed client id, topics under <paramref name="prefix"/>.</summary>
    public static string[] Settings(MosquittoBroker broker, string prefix, string clientId) =>
    [
        "--LstmStream:Mqtt:Enabled=true",
        $"--LstmStream:Mqtt:Client:Host={broker.Host}",
        $"--LstmStream:Mqtt:Client:Port={broker.Port}",
        $"--LstmStream:Mqtt:Client:ClientId={clientId}",
        $"--LstmStream:Mqtt:Client:TopicFilter={prefix}/sensors/+/reading",
        $"--LstmStream:Mqtt:Client:OutputTopicTemplate={prefix}/lstm/{{key}}/output",
        $"--LstmStream:Mqtt:Client:ErrorTopic={prefix}/lstm/errors",
        "--LstmStream:Mqtt:Client:ReconnectDelay=00:00:00.2",
    ];

    public static string ReadingTopic(string prefix, int k) => $"{prefix}/sensors/{Key(k)}/reading";

    public static string OutputFilter(string prefix) => $"{prefix}/lstm/+/output";

    /// <summary>
    /// Opens the persistent session <c>serve</c>'s ingress will resume (client id <c>{clientId}-in</c>, subscribed at QoS 1),
    /// so the broker keeps every reading published from now on for it, whether <c>serve</c> is connected yet or not.
    /// </summary>
    public static async Task PrepareSessionAsync(MosquittoBroker broker, string prefix, string clientId)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithClientId($"{clientId}-in")
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(3600)
            .Build());
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic($"{prefix}/sensors/+/reading").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
        await client.DisconnectAsync();
    }

    /// <summary>Publishes the readings <paramref name="from"/>..<paramref name="to"/> of every key, keys interleaved.</summary>
    public static async Task PublishAsync(MqttTestClient client, string prefix, int keys, long from, long to, TimeSpan pause = default)
    {
        for (var seq = from; seq <= to; seq++)
        {
            for (var k = 0; k < keys; k++)
            {
                await client.PublishAsync(ReadingTopic(prefix, k), Payload(k, seq));
                if (pause > TimeSpan.Zero) await Task.Delay(pause);
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> outputs arrived on the output topics.</summary>
    public static Task WaitForOutputsAsync(MqttTestClient client, int count) =>
        client.WaitForAsync(count, topic => topic.EndsWith("/output", StringComparison.Ordinal), ReplayTimeout);

    public static ReplayOutput Parse(string payload)
    {
        var root = JsonDocument.Parse(payload).RootElement;
        var key = root.GetProperty("key").GetString()!;
        var seq = root.GetProperty("seq").GetInt64();
        if (root.TryGetProperty("y", out var y)) return new ReplayOutput(key, seq, y.GetRawText());
        Assert.True(root.GetProperty("duplicate").GetBoolean(), payload);
        return new ReplayOutput(key, seq, null);
    }

    /// <summary>The outputs received so far on the output topics.</summary>
    public static List<ReplayOutput> Outputs(MqttTestClient client) =>
        client.Received.Where(m => m.Topic.EndsWith("/output", StringComparison.Ordinal)).Select(m => Parse(m.Payload)).ToList();

    /// <summary>Each (key, seq)'s y from an uninterrupted run over TCP of a service without a store.</summary>
    public static Dictionary<(string Key, long Seq), string> YBySeq(IEnumerable<string> lines)
    {
        var outputs = new Dictionary<(string, long), string>();
        foreach (var output in lines.Select(Parse))
        {
            Assert.False(output.IsDuplicate, $"{output.Key} {output.Seq}");
            outputs.Add((output.Key, output.Seq), output.Y!);
        }

        return outputs;
    }

    /// <summary>The value of a metric (summed over its labels) in <c>/metrics</c>; 0 when absent.</summary>
    public static async Task<double> MetricAsync(HttpClient http, string name)
    {
        var text = await http.GetStringAsync("metrics");
        return MetricLine().Matches(text).Where(m => m.Groups["name"].Value == name)
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>Polls <c>/metrics</c> until <paramref name="name"/> satisfies <paramref name="condition"/>; returns the value.</summary>
    public static async Task<double> WaitForMetricAsync(HttpClient http, string name, Func<double, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + ReplayTimeout;
        while (true)
        {
            var value = await MetricAsync(http, name);
            if (condition(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: {name} is {value} after {ReplayTimeout}");
            await Task.Delay(50);
        }
    }

    /// <summary>A key's state document from <c>GET /admin/keys/{key}</c>.</summary>
    public static async Task<JsonElement> KeyStateAsync(HttpClient http, string key) =>
        JsonDocument.Parse(await http.GetStringAsync($"admin/keys/{key}")).RootElement;

    [GeneratedRegex(@"^(?<name>[a-z_]+)(\{[^}]*\})? (?<value>[-+0-9.eE]+|NaN)", RegexOptions.Multiline)]
    private static partial Regex MetricLine();
}
