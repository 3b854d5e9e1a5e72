using LstmStream.Hosting.Options;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// <c>LstmStream:Console</c>: NDJSON records from stdin, outputs and error records on stdout (the service's
/// logs go to stderr). When stdin ends, the outputs of what was read are written and the channel closes; the
/// service keeps running for its other channels until it is stopped.
/// </summary>
public sealed class ConsoleIngress : IIngress
{
    private readonly ConsoleChannelSettings _settings;
    private readonly LimitsSettings _limits;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger<ConsoleIngress> _logger;
    private readonly CancellationTokenSource _stopReading = new();
    private readonly CancellationTokenSource _abort = new();
    private Task _run = Task.CompletedTask;

    public ConsoleIngress(IOptions<ServiceOptions> options, ILoggerFactory loggers)
    {
        _settings = options.Value.Console;
        _limits = options.Value.Limits;
        _loggers = loggers;
        _logger = loggers.CreateLogger<ConsoleIngress>();
    }

    public string Description => "stdin/stdout";

    public Task StartAsync(IPipelineInbox inbox, CancellationToken cancellationToken)
    {
        _run = RunAsync(inbox);
        return Task.CompletedTask;
    }

    private async Task RunAsync(IPipelineInbox inbox)
    {
        await Task.Yield();
        var input = Console.OpenStandardInput();
        var output = Console.OpenStandardOutput();
        var channel = new NdjsonStreamChannel("stdin", input, output, _loggers.CreateLogger<NdjsonStreamChannel>())
        {
            MaxLineBytes = _limits.MaxLineBytes,
            MaxKeyBytes = _limits.MaxKeyBytes,
        };
        var connection = inbox.Connect(channel, "console", _settings.MaxInFlightRecords);
        try
        {
            await channel.RunAsync(connection, _stopReading.Token, _abort.Token).ConfigureAwait(false);
            _logger.LogInformation("stdin: closed after {Accepted} records, {Rejected} rejected", connection.Accepted, connection.Rejected);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "stdin: failed");
        }
        finally
        {
            connection.Close();
        }
    }

    public async Task StopAsync(CancellationToken deadline)
    {
        await _stopReading.CancelAsync().ConfigureAwait(false);
        try
        {
            await _run.WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            await _run.ConfigureAwait(false);
        }
    }
}
