using System.Globalization;
using LstmStream.Hosting.Cli;

namespace LstmStream.Tests.Examples;

/// <summary><c>examples/systemd/lstmstream.service</c>: valid for systemd, and its stop timeout fits the drain.</summary>
public sealed class SystemdUnitTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lstmstream-unit-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Systemd_analyze_verify_accepts_the_unit_without_a_warning()
    {
        var analyze = ExternalTool.Find("systemd-analyze", "systemd");
        // The unit as shipped, with ExecStart pointing at the executable this build made (verify checks it exists).
        var apphost = Path.Combine(Path.GetDirectoryName(typeof(CliApplication).Assembly.Location)!, "lstmstream");
        var unit = File.ReadAllText(ExampleFiles.SystemdUnit);
        Assert.Contains("ExecStart=/opt/lstmstream/lstmstream serve", unit, StringComparison.Ordinal);
        var copy = Path.Combine(_directory, "lstmstream.service");
        File.WriteAllText(copy, unit.Replace("/opt/lstmstream/lstmstream", apphost, StringComparison.Ordinal));

        var (exit, output) = await ExternalTool.RunAsync(analyze, "verify", copy);

        Assert.True(exit == 0, output);
        Assert.True(output.Trim().Length == 0, $"systemd-analyze verify warned: {output}");
    }

    [Fact]
    public void The_unit_waits_for_readiness_runs_unprivileged_keeps_state_and_restarts_on_failure()
    {
        var settings = Settings();
        Assert.Equal("notify", settings["Type"].Single());
        Assert.Equal("yes", settings["DynamicUser"].Single());
        Assert.Equal("lstmstream", settings["StateDirectory"].Single());
        Assert.Equal("/var/lib/lstmstream", settings["WorkingDirectory"].Single());
        Assert.Equal("on-failure", settings["Restart"].Single());
        // A bad setting (exit 2) does not fix itself by restarting.
        Assert.Equal("2", settings["RestartPreventExitStatus"].Single());
        Assert.Equal("strict", settings["ProtectSystem"].Single());
        // .NET recognizes systemd through its parent's /proc entry, which ProtectProc=invisible would hide.
        Assert.False(settings.ContainsKey("ProtectProc"));
        Assert.False(settings.ContainsKey("MemoryDenyWriteExecute"), "the JIT needs memory that is written, then executed");
    }

    [Fact]
    public void Systemd_waits_longer_than_the_drain_deadline_and_the_host_margin_before_killing()
    {
        var settings = Settings();
        var deadline = settings["Environment"].Select(e => e.Split('=', 2)).Single(kv => kv[0] == "LstmStream__Shutdown__Deadline")[1];
        var drain = TimeSpan.Parse(deadline, CultureInfo.InvariantCulture);
        var stop = TimeSpan.FromSeconds(int.Parse(settings["TimeoutStopSec"].Single(), CultureInfo.InvariantCulture));
        // The host allows the drain's deadline + 5 s (ServiceHostFactory), then Akka terminates.
        Assert.True(stop >= drain + TimeSpan.FromSeconds(10), $"TimeoutStopSec {stop} must be at least the drain deadline {drain} + 10 s");
        Assert.Equal("SIGTERM", settings["KillSignal"].Single());
    }

    /// <summary>Every <c>Key=value</c> of the unit (all sections), values in order.</summary>
    private static Dictionary<string, List<string>> Settings()
    {
        var settings = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var raw in File.ReadLines(ExampleFiles.SystemdUnit))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith('[')) continue;
            var equals = line.IndexOf('=');
            Assert.True(equals > 0, $"not a Key=value line: {line}");
            var key = line[..equals];
            if (!settings.TryGetValue(key, out var values)) settings[key] = values = [];
            values.Add(line[(equals + 1)..]);
        }

        return settings;
    }
}
