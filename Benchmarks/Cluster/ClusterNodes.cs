using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Benchmarks.Cluster;

/// <summary>
/// Several <c>serve</c> processes (<see cref="ServeProcess"/>) forming one cluster on 127.0.0.1: free cluster ports, the
/// first node the seed of every node, one shared session store (each run a new PostgreSQL database), ready once every
/// node sees every member Up (<c>GET /admin/cluster</c>). Checkpoints every hour: none falls inside a measurement (their
/// commit records would be counted as outputs, their writes would be measured with the routing).
/// </summary>
internal sealed class ClusterNodes : IDisposable
{
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(90);
    private readonly List<ServeProcess> _nodes = [];

    private ClusterNodes()
    {
    }

    public IReadOnlyList<ServeProcess> Nodes => _nodes;

    public IReadOnlyList<IPEndPoint> TcpEndpoints => _nodes.Select(n => n.Tcp).ToList();

    /// <summary>The settings of a node with the store <paramref name="store"/>, cluster mode off: the baseline of the cluster rows.</summary>
    public static string[] StoreSettings(string store) =>
        [$"--LstmStream:Sessions:Store={store}", "--LstmStream:Sessions:Checkpoint:Interval=01:00:00"];

    /// <summary>One <c>serve</c> with the store and cluster mode off.</summary>
    public static ServeProcess StartAlone(string serve, string model, string store) => ServeProcess.Start(serve, model, StoreSettings(store));

    /// <summary><paramref name="count"/> nodes in cluster mode on the shared <paramref name="store"/>, every member Up.</summary>
    public static ClusterNodes Start(string serve, string model, string store, int count)
    {
        var ports = Enumerable.Range(0, count).Select(_ => FreePort.Next()).ToArray();
        var seed = $"akka.tcp://lstmstream@127.0.0.1:{ports[0]}";
        var cluster = new ClusterNodes();
        try
        {
            foreach (var port in ports)
            {
                cluster._nodes.Add(ServeProcess.Start(serve, model,
                [
                    .. StoreSettings(store), "--LstmStream:Cluster:Enabled=true", $"--LstmStream:Cluster:Port={port}",
                    .. count > 1 ? [$"--LstmStream:Cluster:SeedNodes:0={seed}"] : Array.Empty<string>(),
                ]));
            }

            foreach (var node in cluster._nodes) WaitForMembersUp(node, count);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Live keys of each node (<c>GET /admin/cluster</c> of the first node, which asks every node).</summary>
    public IReadOnlyList<long> LiveKeysPerNode()
    {
        var members = Cluster(_nodes[0]).GetProperty("members").EnumerateArray().ToList();
        return members.Select(m => m.TryGetProperty("liveKeys", out var k) && k.ValueKind == JsonValueKind.Number ? k.GetInt64() : 0).ToList();
    }

    /// <summary>Processor time of every node so far.</summary>
    public TimeSpan ProcessorTime() => ProcessorTime(_nodes);

    public static TimeSpan ProcessorTime(IEnumerable<ServeProcess> nodes) =>
        nodes.Aggregate(TimeSpan.Zero, (sum, node) =>
        {
            node.Process.Refresh();
            return sum + node.Process.TotalProcessorTime;
        });

    private static void WaitForMembersUp(ServeProcess node, int count)
    {
        var deadline = DateTime.UtcNow + FormTimeout;
        var last = "";
        while (true)
        {
            try
            {
                var cluster = Cluster(node);
                last = cluster.GetRawText();
                var members = cluster.GetProperty("members").EnumerateArray().ToList();
                if (members.Count == count && members.All(m => m.GetProperty("status").GetString() == "Up")) return;
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }

            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the cluster of {count} did not form within {FormTimeout.TotalSeconds} s; last answer {last}\n{node.Log}");
            Thread.Sleep(200);
        }
    }

    private static JsonElement Cluster(ServeProcess node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        return http.GetFromJsonAsync<JsonElement>(new Uri(node.Metrics, "/admin/cluster")).GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        // The last node first: the seed stays while the others leave.
        for (var i = _nodes.Count - 1; i >= 0; i--) _nodes[i].Dispose();
        _nodes.Clear();
    }
}
