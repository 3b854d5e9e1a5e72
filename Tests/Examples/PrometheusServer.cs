using System.Diagnostics;
using System.Text.Json;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Examples;

/// <summary>
/// A real Prometheus server (Debian package <c>prometheus</c>) on a free loopback port, configured from
/// <c>examples/prometheus/prometheus.yml</c> with its rule files, scraping and evaluating every second, with its
/// data in a temporary folder. Disposing kills it and deletes the folder.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly Task<string> _log;

    private PrometheusServer(Process process, string directory, Uri api)
    {
        _process = process;
        _directory = directory;
        Api = api;
        _log = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
    }

    public Uri Api { get; }

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Starts Prometheus scraping <paramref name="target"/> (HOST:PORT) and waits until it is ready.</summary>
    public static async Task<PrometheusServer> StartAsync(string target)
    {
        var executable = ExternalTool.Find("prometheus", "prometheus");
        var directory = Directory.CreateTempSubdirectory("lstmstream-prometheus-").FullName;
        // The example configuration as shipped, but scraping the test's service every second.
        var config = File.ReadAllText(ExampleFiles.PrometheusConfig);
        foreach (var (from, to) in new[] { ("127.0.0.1:9464", target), ("scrape_interval: 15s", "scrape_interval: 1s"), ("evaluation_interval: 15s", "evaluation_interval: 1s") })
        {
            Assert.Contains(from, config, StringComparison.Ordinal);
            config = config.Replace(from, to, StringComparison.Ordinal);
        }

        File.WriteAllText(Path.Combine(directory, "prometheus.yml"), config);
        File.Copy(ExampleFiles.RecordingRules, Path.Combine(directory, Path.GetFileName(ExampleFiles.RecordingRules)));
        File.Copy(ExampleFiles.AlertRules, Path.Combine(directory, Path.GetFileName(ExampleFiles.AlertRules)));

        var port = RunningService.FreePort();
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var arg in new[]
                 {
                     $"--config.file={Path.Combine(directory, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        var server = new PrometheusServer(Process.Start(start)!, directory, new Uri($"http://127.0.0.1:{port}/"));
        try
        {
            await server.WaitUntilAsync("ready", async () =>
            {
                try
                {
                    return (await server.Http.GetAsync(new Uri(server.Api, "-/ready"))).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            });
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>An instant query through the HTTP API; throws with Prometheus' error when it fails.</summary>
    public async Task<JsonElement[]> QueryAsync(string expression)
    {
        var response = await Http.GetAsync(new Uri(Api, $"api/v1/query?query={Uri.EscapeDataString(expression)}"));
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        if (root.GetProperty("status").GetString() != "success")
            throw new InvalidOperationException($"query {expression} failed: {root.GetProperty("error").GetString()}");
        return root.GetProperty("data").GetProperty("result").EnumerateArray().Select(r => r.Clone()).ToArray();
    }

    /// <summary>The rules as Prometheus evaluates them (<c>/api/v1/rules</c>): name, health, last error.</summary>
    public async Task<IReadOnlyList<(string Name, string Health, string? Error)>> RulesAsync()
    {
        using var document = JsonDocument.Parse(await Http.GetStringAsync(new Uri(Api, "api/v1/rules")));
        return document.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Select(r => (r.GetProperty("name").GetString()!, r.GetProperty("health").GetString()!,
                r.TryGetProperty("lastError", out var e) ? e.GetString() : null))
            .ToList();
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails after a minute naming <paramref name="what"/>.</summary>
    public async Task WaitUntilAsync(string what, Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (_process.HasExited) throw new InvalidOperationException($"prometheus exited ({_process.ExitCode}): {await _log}");
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"prometheus: not {what} within 60 s");
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        Http.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
