using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Service;

/// <summary>
/// <c>lstmstream serve</c> as a real process with the demo model and the managed backend, TCP and HTTP on free loopback
/// ports, console and simulator off, plus the caller's settings (cluster mode, store). The log (stderr) is collected
/// line by line; SIGTERM stops it; disposing kills it if it still runs.
/// </summary>
internal sealed class ClusterNode : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly Task _stderr;

    private ClusterNode(Process process, int tcpPort, int httpPort, int clusterPort)
    {
        _process = process;
        TcpEndpoint = new IPEndPoint(IPAddress.Loopback, tcpPort);
        HttpBase = new Uri($"http://127.0.0.1:{httpPort}/");
        Address = $"akka.tcp://lstmstream@127.0.0.1:{clusterPort}";
        _stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line) _log.Enqueue(line);
        });
        _ = process.StandardOutput.ReadToEndAsync();
    }

    public IPEndPoint TcpEndpoint { get; }
    public Uri HttpBase { get; }

    /// <summary>The node's cluster address (<c>akka.tcp://lstmstream@127.0.0.1:port</c>).</summary>
    public string Address { get; }

    public string Log => string.Join('\n', _log);

    /// <summary>A node in cluster mode on <paramref name="clusterPort"/> (see <see cref="FreePort"/>) with <paramref name="settings"/> added.</summary>
    public static ClusterNode Start(int clusterPort, params string[] settings)
    {
        var tcp = FreePort();
        var http = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     LstmStreamProcess.Dll, "serve", "--model", RunningService.DemoModel, "--no-simulator", "--LstmStream:Math:Backend=managed",
                     "--LstmStream:Console:Enabled=false", $"--LstmStream:Tcp:Endpoint=127.0.0.1:{tcp}", $"--LstmStream:Http:Endpoint=127.0.0.1:{http}",
                     $"--LstmStream:Cluster:Port={clusterPort}", "--LstmStream:Shutdown:Deadline=00:00:30",
                     // The shared test machine can be slow to open PostgreSQL connections under load.
                     "--LstmStream:Sessions:StoreTimeout=00:02:00",
                 }.Concat(settings))
        {
            start.ArgumentList.Add(arg);
        }

        return new ClusterNode(Process.Start(start)!, tcp, http, clusterPort);
    }

    /// <summary>
    /// The outputs of one node without cluster mode (and without a store) fed <paramref name="records"/> on one connection, by
    /// key in output order: the reference of the cluster tests. <paramref name="started"/> is told the node (to dispose it).
    /// </summary>
    public static async Task<Dictionary<string, List<string>>> SingleNodeOutputsAsync(List<string> records, TimeSpan timeout, Action<ClusterNode> started)
    {
        var reference = Start(FreePort());
        started(reference);
        await reference.WaitUntilServingAsync(timeout);
        var outputs = await reference.ExchangeAsync(records, timeout);
        Assert.Equal(0, await reference.StopAsync(timeout));
        return NdjsonClient.ByKey(outputs);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits for the start-up line; fails with the log when the process ends first or <paramref name="timeout"/> passes.</summary>
    public async Task WaitUntilServingAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!_log.Any(l => l.Contains("LstmStream serving", StringComparison.Ordinal)))
        {
            if (_process.HasExited)
            {
                await _stderr;
                throw new InvalidOperationException($"serve exited with {_process.ExitCode} before serving:\n{Log}");
            }

            try
            {
                await Task.Delay(50, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"serve did not start within {timeout}:\n{Log}");
            }
        }
    }

    /// <summary>GET /admin/cluster of this node.</summary>
    public async Task<JsonElement> ClusterAsync()
    {
        using var http = new HttpClient { BaseAddress = HttpBase, Timeout = TimeSpan.FromSeconds(20) };
        var text = await http.GetStringAsync("admin/cluster");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>GET /metrics of this node (Prometheus text).</summary>
    public async Task<string> MetricsAsync()
    {
        using var http = new HttpClient { BaseAddress = HttpBase, Timeout = TimeSpan.FromSeconds(20) };
        return await http.GetStringAsync("metrics");
    }

    /// <summary>Waits until this node sees <paramref name="members"/> members, all Up.</summary>
    public async Task WaitForMembersUpAsync(int members, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var last = "";
        while (true)
        {
            try
            {
                var cluster = await ClusterAsync();
                last = cluster.GetRawText();
                var up = cluster.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
                if (up == members && cluster.GetProperty("members").GetArrayLength() == members) return;
            }
            catch (HttpRequestException e)
            {
                // Serving (the start-up line) comes just before the HTTP endpoint listens.
                last = e.Message;
            }

            try
            {
                await Task.Delay(200, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{Address} did not see {members} members up within {timeout}; last answer {last}\n{Log}");
            }
        }
    }

    /// <summary>Sends <paramref name="records"/> on a new connection and returns every line answered until the node closes it.</summary>
    public async Task<List<string>> ExchangeAsync(IReadOnlyList<string> records, TimeSpan timeout)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(TcpEndpoint);
        return await NdjsonClient.ExchangeAsync(client, records, timeout);
    }

    /// <summary>Sends SIGTERM and waits for the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return _process.ExitCode;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync();
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        await _stderr;
        return _process.ExitCode;
    }

    /// <summary>kill -9: the process dies at once (no drain, no leave, no clean MQTT disconnect).</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill();
        await _process.WaitForExitAsync();
        await _stderr;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
