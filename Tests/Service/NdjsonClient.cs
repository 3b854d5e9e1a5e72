using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace LstmStream.Tests.Service;

/// <summary>Test-side helpers for NDJSON over a TCP connection.</summary>
internal static class NdjsonClient
{
    /// <summary>Sends <paramref name="lines"/>, half-closes, and reads every line until the server closes.</summary>
    public static async Task<List<string>> ExchangeAsync(TcpClient client, IReadOnlyList<string> lines, TimeSpan timeout)
    {
        var stream = client.GetStream();
        var reading = ReadAllLinesAsync(stream, timeout);
        var text = new StringBuilder();
        foreach (var line in lines) text.Append(line).Append('\n');
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
        client.Client.Shutdown(SocketShutdown.Send);
        return await reading;
    }

    public static async Task<List<string>> ReadAllLinesAsync(Stream stream, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
        var lines = new List<string>();
        while (await reader.ReadLineAsync(cts.Token) is { } line) lines.Add(line);
        return lines;
    }

    /// <summary>Reads exactly <paramref name="count"/> lines.</summary>
    public static async Task<List<string>> ReadLinesAsync(StreamReader reader, int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var lines = new List<string>();
        while (lines.Count < count)
        {
            var line = await reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException($"connection closed after {lines.Count} of {count} lines");
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>Output lines grouped by key, each key's lines in arrival order.</summary>
    public static Dictionary<string, List<string>> ByKey(IEnumerable<string> lines)
    {
        var byKey = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var key = doc.RootElement.GetProperty("key").GetString()!;
            if (!byKey.TryGetValue(key, out var list)) byKey[key] = list = [];
            list.Add(line);
        }

        return byKey;
    }

    public static string Record(string key, long seq, params float[] x) =>
        $"{{\"key\":\"{key}\",\"seq\":{seq},\"x\":[{string.Join(',', x.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}]}}";
}
