using System.Diagnostics;
using System.Text.Json;
using LstmStream.Hosting.Cli;

namespace LstmStream.Tests.Service;

/// <summary>The service as a real process: stdin/stdout channel and SIGTERM.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class ServiceProcessTests
{
    [Fact]
    public async Task Stdin_records_are_answered_on_stdout_and_SIGTERM_stops_with_exit_0()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        var dll = Path.Combine(Path.GetDirectoryName(typeof(CliApplication).Assembly.Location)!, "lstmstream.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     dll, "serve", "--model", RunningService.DemoModel, "--no-simulator",
                     "--LstmStream:Console:Enabled=true", "--LstmStream:Tcp:Enabled=false", "--LstmStream:Http:Enabled=false",
                     "--LstmStream:Math:Backend=managed",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.StandardInput.WriteLineAsync(NdjsonClient.Record("p", 0, 1, 2, 3, 4));
            await process.StandardInput.WriteLineAsync("{\"key\":\"p\"}");
            await process.StandardInput.WriteLineAsync(NdjsonClient.Record("p", 1, 4, 3, 2, 1));
            await process.StandardInput.FlushAsync();

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var lines = new List<string>();
            while (lines.Count < 3) lines.Add(await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException(await stderr));

            Assert.Equal([0L, 1L], lines.Where(l => !l.Contains("\"error\"", StringComparison.Ordinal))
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
            var error = JsonDocument.Parse(lines.Single(l => l.Contains("\"error\"", StringComparison.Ordinal))).RootElement;
            Assert.Equal(2, error.GetProperty("line").GetInt64());
            Assert.Equal("x", error.GetProperty("field").GetString());

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
                await kill.WaitForExitAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
            var log = await stderr;
            Assert.Contains("LstmStream serving", log, StringComparison.Ordinal);
            Assert.Contains("every accepted record's output was delivered", log, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
