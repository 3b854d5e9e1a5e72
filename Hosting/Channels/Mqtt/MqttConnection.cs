using System.Net.Sockets;
using LstmStream.Hosting.Options;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;

namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// One MQTT client connection that keeps itself up: it connects in the background, retrying every
/// <see cref="MqttClientSettings.ReconnectDelay"/> while the broker cannot be reached, runs the owner's
/// <c>onConnected</c> step (subscribing, say) after every successful connect, and when the connection is lost
/// (broker restart, network) reconnects the same way. Users wait for a live connection with
/// <see cref="WaitConnectedAsync"/>. Disposing disconnects cleanly and stops retrying.
/// <para>
/// MQTT 5. The connection that receives readings (<c>receivesReadings</c>) asks the broker to keep its session when
/// <see cref="MqttClientSettings.PersistentSession"/> is on (clean start off, session expiry
/// <see cref="MqttClientSettings.SessionExpiry"/>) and sends <see cref="MqttClientSettings.ReceiveMaximum"/>, the most
/// unacknowledged QoS 1/2 messages the broker may send it; the publishing connection starts clean.
/// </para>
/// </summary>
public sealed class MqttConnection : IAsyncDisposable
{
    private readonly MqttClientSettings _options;
    private readonly MqttClientOptions _clientOptions;
    private readonly Func<IMqttClient, CancellationToken, Task>? _onConnected;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private TaskCompletionSource _connected = NewSignal();
    private TaskCompletionSource _lost = NewSignal();
    private Task? _run;
    private long _connects, _session;

    /// <param name="options">Validated settings.</param>
    /// <param name="clientIdSuffix">Appended to <see cref="MqttClientSettings.ClientId"/> (each connection needs its own id).</param>
    /// <param name="onConnected">Run after every connect, before <see cref="WaitConnectedAsync"/> callers go on; if
    /// it throws, the connection is dropped and tried again.</param>
    /// <param name="logger">Connection events (connected, lost, retrying).</param>
    /// <param name="receivesReadings">The subscribing connection: its session is kept (when configured) and it sends Receive Maximum.</param>
    public MqttConnection(MqttClientSettings options, string clientIdSuffix, Func<IMqttClient, CancellationToken, Task>? onConnected, ILogger logger,
        bool receivesReadings = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _onConnected = onConnected;
        _logger = logger;
        ClientId = options.ClientId + clientIdSuffix;
        var keepSession = receivesReadings && options.PersistentSession;
        var builder = MqttTransportSecurity.Apply(new MqttClientOptionsBuilder(), options)
            .WithTcpServer(options.Host, options.Port)
            .WithClientId(ClientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(!keepSession)
            .WithKeepAlivePeriod(options.KeepAlive)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (keepSession) builder.WithSessionExpiryInterval((uint)options.SessionExpiry.TotalSeconds);
        if (receivesReadings) builder.WithReceiveMaximum((ushort)options.ReceiveMaximum);
        _clientOptions = builder.Build();
        // A graceful close: MQTTnet's default (linger on, 0 s) resets the socket when it closes it, and what the broker had not
        // read yet is lost: the DISCONNECT and the last acknowledgements of a graceful stop among them (the broker then took
        // the disconnect as unclean and delivered those readings again to the next session).
        if (_clientOptions.ChannelOptions is MqttClientTcpOptions tcp) tcp.LingerState = new LingerOption(false, 0);
        Client = new MqttClientFactory().CreateMqttClient();
        Client.DisconnectedAsync += OnDisconnected;
    }

    /// <summary>The MQTT client id this connection uses.</summary>
    public string ClientId { get; }

    /// <summary>The underlying client; add message handlers before <see cref="Start"/>.</summary>
    public IMqttClient Client { get; }

    /// <summary>How many times the connection has been established (1 after the first connect).</summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>The number of the connection attempt under way or up (1, 2, …): what arrives now belongs to it.</summary>
    public long Session => Interlocked.Read(ref _session);

    /// <summary>Whether the connection of attempt <paramref name="session"/> is still the one up (so its packet identifiers still mean something).</summary>
    public bool IsCurrent(long session) => session == Session && Client.IsConnected;

    /// <summary>
    /// Drops the connection now; it is made again after <see cref="MqttClientSettings.ReconnectDelay"/>. With a persistent
    /// session the broker then delivers again every reading not acknowledged on the dropped one (whose packet identifiers
    /// mean nothing any more: <see cref="IsCurrent"/> is false for it from now on).
    /// </summary>
    public async Task ReconnectAsync()
    {
        try
        {
            if (Client.IsConnected) await Client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "MQTT {ClientId}: error while dropping the connection", ClientId);
        }
    }

    /// <summary>Starts connecting in the background (once).</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
            _run ??= Task.Run(() => RunAsync(_stop.Token));
        }
    }

    /// <summary>Completes when the connection is up (and <c>onConnected</c> has run).</summary>
    public Task WaitConnectedAsync(CancellationToken cancellationToken)
    {
        Task connected;
        lock (_gate) connected = _connected.Task;
        return connected.WaitAsync(cancellationToken);
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            TaskCompletionSource lost;
            lock (_gate) lost = _lost = NewSignal();
            Interlocked.Increment(ref _session);
            try
            {
                var result = await Client.ConnectAsync(_clientOptions, stop).ConfigureAwait(false);
                if (result.ResultCode != MqttClientConnectResultCode.Success)
                    throw new InvalidOperationException($"the broker answered {result.ResultCode}{(string.IsNullOrEmpty(result.ReasonString) ? "" : $" ({result.ReasonString})")}");
                if (_onConnected is not null) await _onConnected(Client, stop).ConfigureAwait(false);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                if (failures++ % 30 == 0)
                {
                    var reason = Describe(e);
                    if (reason.Contains(nameof(MqttClientConnectResultCode.BadUserNameOrPassword), StringComparison.Ordinal) ||
                        reason.Contains(nameof(MqttClientConnectResultCode.NotAuthorized), StringComparison.Ordinal))
                        _logger.LogError("MQTT {ClientId}: the broker {Host}:{Port} refused the credentials of user '{User}' ({Reason}); check " +
                                         "Mqtt:Client:Username and Password / PasswordFile; retrying every {Delay}",
                            ClientId, _options.Host, _options.Port, _options.Username ?? "(none)", reason, _options.ReconnectDelay);
                    else
                        _logger.LogWarning("MQTT {ClientId}: cannot connect to {Host}:{Port} ({Reason}); retrying every {Delay}",
                            ClientId, _options.Host, _options.Port, reason, _options.ReconnectDelay);
                }

                await DropAsync().ConfigureAwait(false);
                await DelayAsync(stop).ConfigureAwait(false);
                continue;
            }
            catch (Exception)
            {
                break; // stopping: whatever the attempt threw
            }

            failures = 0;
            Interlocked.Increment(ref _connects);
            _logger.LogInformation("MQTT {ClientId}: connected to {Host}:{Port}", ClientId, _options.Host, _options.Port);
            lock (_gate) _connected.TrySetResult();

            // Wait until the connection is lost (a late event of an earlier attempt is ignored while still connected).
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await lost.Task.WaitAsync(stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                if (!Client.IsConnected) break;
                lock (_gate) lost = _lost = NewSignal();
            }

            if (stop.IsCancellationRequested) break;
            lock (_gate)
            {
                if (_connected.Task.IsCompleted) _connected = NewSignal();
            }

            _logger.LogWarning("MQTT {ClientId}: connection to {Host}:{Port} lost; reconnecting", ClientId, _options.Host, _options.Port);
            await DelayAsync(stop).ConfigureAwait(false);
        }
    }

    /// <summary>The messages of an exception and its inner ones (MQTTnet puts the broker's result code in the outer one).</summary>
    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (!messages.Contains(inner.Message)) messages.Add(inner.Message);
        return string.Join(": ", messages);
    }

    private Task OnDisconnected(MqttClientDisconnectedEventArgs e)
    {
        lock (_gate) _lost.TrySetResult();
        return Task.CompletedTask;
    }

    private async Task DropAsync()
    {
        try
        {
            if (Client.IsConnected) await Client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "MQTT {ClientId}: error while dropping a half-made connection", ClientId);
        }
    }

    private async Task DelayAsync(CancellationToken stop)
    {
        try
        {
            await Task.Delay(_options.ReconnectDelay, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Stops reconnecting and disconnects cleanly (waiting at most a few seconds for the broker).</summary>
    public async ValueTask DisposeAsync()
    {
        Task? run;
        lock (_gate)
        {
            if (_stop.IsCancellationRequested) return;
            _stop.Cancel();
            run = _run;
        }

        if (run is not null) await run.ConfigureAwait(false);
        Client.DisconnectedAsync -= OnDisconnected;
        try
        {
            if (Client.IsConnected)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await Client.DisconnectAsync(new MqttClientDisconnectOptions(), timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "MQTT {ClientId}: error while disconnecting", ClientId);
        }

        Client.Dispose();
        _stop.Dispose();
        lock (_gate) _connected.TrySetCanceled();
    }
}
