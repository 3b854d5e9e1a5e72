using System.Globalization;
using LstmStream.Hosting.Cli;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Cli;

/// <summary><c>lstmstream simulate --connect</c>: the simulator as a TCP client of the service, and its option errors.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class SimulateConnectTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-simconnect-{Guid.NewGuid():N}");

    public SimulateConnectTests() => Directory.CreateDirectory(_folder);

    [Theory]
    [InlineData("--resend")]
    [InlineData("--retry-for", "5")]
    [InlineData("--max-uncommitted", "10")]
    [InlineData("--commit-wait", "5")]
    public async Task Options_about_sending_need_connect(params string[] options)
    {
        var run = await CliRun.InvokeAsync(["simulate", "--count", "1", "--output", Path.Combine(_folder, "out"), .. options]);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains($"{options[0]} needs --connect HOST:PORT", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--connect", "nowhere" }, "--connect 'nowhere' is not HOST:PORT")]
    [InlineData(new[] { "--connect", "127.0.0.1:1", "--retry-for=-1" }, "--retry-for must be a number of seconds, 0 or more")]
    [InlineData(new[] { "--connect", "127.0.0.1:1", "--commit-wait", "0" }, "--commit-wait must be a number of seconds above 0")]
    [InlineData(new[] { "--connect", "127.0.0.1:1", "--max-uncommitted", "0" }, "--max-uncommitted must be positive")]
    public async Task Bad_connect_options_are_named(string[] options, string message)
    {
        var run = await CliRun.InvokeAsync(["simulate", "--count", "1", .. options]);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_service_that_cannot_be_reached_is_an_error_once_the_retry_time_is_up()
    {
        var port = RunningService.FreePort();
        var run = await CliRun.InvokeAsync("simulate", "--count", "5", "--connect", $"127.0.0.1:{port}", "--retry-for", "0.3", "--output", Path.Combine(_folder, "out"));

        Assert.Equal(CliApplication.UsageError, run.ExitCode);
        Assert.Contains($"cannot connect to 127.0.0.1:{port} (tried for 0.3 s)", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_writes_the_service_answer_of_every_record()
    {
        await using var service = await RunningService.StartAsync();
        var output = Path.Combine(_folder, "answers.ndjson");
        var run = await CliRun.InvokeAsync("simulate", "--keys", "3", "--count", "30", "--connect", service.TcpEndpoint!.ToString(), "--output", output);

        Assert.True(run.ExitCode == 0, run.Error);
        var answers = await File.ReadAllLinesAsync(output);
        Assert.Equal(30, answers.Length);
        Assert.All(answers, a => Assert.Contains("\"y\":[", a, StringComparison.Ordinal));
        Assert.Equal(30, NdjsonClient.ByKey(answers).Sum(k => k.Value.Count));
        Assert.Contains("30 record(s) sent, 0 resent after 0 reconnect(s); 30 answer(s)", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resend_against_a_service_without_a_store_stops_with_an_error_naming_the_missing_store()
    {
        await using var service = await RunningService.StartAsync();
        var run = await CliRun.InvokeAsync("simulate", "--keys", "2", "--count", "4", "--connect", service.TcpEndpoint!.ToString(), "--resend",
            "--commit-wait", "0.5", "--output", Path.Combine(_folder, "answers.ndjson"));

        Assert.Equal(CliApplication.UsageError, run.ExitCode);
        Assert.Contains("no commit record", run.Error, StringComparison.Ordinal);
        Assert.Contains("LstmStream:Sessions:Store", run.Error, StringComparison.Ordinal);
        Assert.Contains(4.ToString(CultureInfo.InvariantCulture) + " record(s) wait", run.Error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
