using System.Text.Json;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Service;

/// <summary>
/// A native backend whose library is installed but broken (it loads, and its first call would end the process with
/// "symbol lookup error", as MKL's OpenMP layer does without its runtime) never stops the service: nothing is
/// installed for this test; a library built here shadows MKL's file names through <c>LD_LIBRARY_PATH</c>.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class BrokenNativeBackendServiceTests
{
    [Fact]
    public async Task Serve_on_auto_starts_on_the_other_backends_and_logs_why_mkl_is_left_out()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var broken = await BrokenNativeLibrary.BuildAsync("libmkl_rt.so.2", "libmkl_rt.so");
        using var service = ServeProcess.Start(["--LstmStream:Math:Backend=auto"], ShadowingEnvironment(broken));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await service.WriteLinesAsync(NdjsonClient.Record("k", 0, 1, 2, 3, 4), NdjsonClient.Record("k", 1, 4, 3, 2, 1));
        var lines = await service.ReadLinesAsync(2, timeout.Token);
        Assert.Equal([0L, 1L], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));

        var (exit, log) = await service.StopAsync(timeout.Token);
        Assert.True(exit == 0, $"exit {exit}: {log}");
        var reason = log.Split('\n').SingleOrDefault(l => l.Contains("Math backend mkl is unavailable, auto chose among the others", StringComparison.Ordinal));
        Assert.True(reason is not null, log);
        Assert.Contains($"libmkl_rt.so.2 loads but cannot be bound ({broken.Files[0]}: undefined symbol: {BrokenNativeLibrary.MissingSymbol})", reason);
        Assert.Contains($"libmkl_rt.so loads but cannot be bound ({broken.Files[1]}: undefined symbol: {BrokenNativeLibrary.MissingSymbol})", reason);
        Assert.Contains($"undefined symbol: {BrokenNativeLibrary.MissingSymbol}", reason);
        var startup = log.Split('\n').Single(l => l.Contains("LstmStream serving", StringComparison.Ordinal));
        var choices = startup[startup.IndexOf("backend auto", StringComparison.Ordinal)..startup.IndexOf("; batch", StringComparison.Ordinal)];
        Assert.DoesNotContain("mkl", choices);
        Assert.Contains("layer 0 [", choices);
    }

    [Fact]
    public async Task Run_with_the_broken_backend_named_exits_2_with_the_reason_and_auto_runs_without_it()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var broken = await BrokenNativeLibrary.BuildAsync("libmkl_rt.so.2", "libmkl_rt.so");
        var input = NdjsonClient.Record("k", 0, 1, 2, 3, 4) + "\n" + NdjsonClient.Record("k", 1, 4, 3, 2, 1) + "\n";

        var named = await LstmStreamProcess.RunAsync(input, ShadowingEnvironment(broken), "run", "--model", RunningService.DemoModel, "--backend", "mkl");
        Assert.True(named.Exit == 2, $"exit {named.Exit}: {named.Stderr}");
        Assert.Contains("math backend 'mkl' is not available", named.Stderr);
        Assert.Contains($"undefined symbol: {BrokenNativeLibrary.MissingSymbol}", named.Stderr);
        Assert.Equal("", named.Stdout);

        var auto = await LstmStreamProcess.RunAsync(input, ShadowingEnvironment(broken), "run", "--model", RunningService.DemoModel, "--backend", "auto");
        Assert.True(auto.Exit == 0, $"exit {auto.Exit}: {auto.Stderr}");
        Assert.Equal(2, auto.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    /// <summary>The broken library's folder first on the loader's path, so it is found before an installed MKL.</summary>
    private static Dictionary<string, string?> ShadowingEnvironment(BrokenNativeLibrary broken)
    {
        var existing = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
        return new Dictionary<string, string?>
        {
            ["LD_LIBRARY_PATH"] = string.IsNullOrEmpty(existing) ? broken.Folder : $"{broken.Folder}:{existing}",
            ["MKL_THREADING_LAYER"] = null,
        };
    }
}
