using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using LstmStream.Hosting.Options;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// The NDJSON TCP listener (<c>LstmStream:Tcp</c>): every connection is its own <see cref="NdjsonStreamChannel"/>
/// with <see cref="TcpSettings.MaxInFlightRecords"/> of credit; its outputs and error records come back on the
/// same connection, in input order per key. A connection ends when the peer closes its sending side (after
/// every output has been written) or disconnects; neither disturbs other connections.
/// </summary>
public sealed class TcpIngress : IIngress, IAsyncDisposable
{
    private readonly TcpSettings _settings;
    private readonly ILogger<TcpIngress> _logger;
    private readonly ILoggerFactory _loggers;
    private readonly ConcurrentDictionary<int, Task> _connections = new();
    private readonly CancellationTokenSource _stopReading = new();
    private readonly CancellationTokenSource _abort = new();
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _nextConnection;
    private int _disposed;

    public TcpIngress(IOptions<ServiceOptions> options, ILoggerFactory loggers)
    {
        _settings = options.Value.Tcp;
        _loggers = loggers;
        _logger = loggers.CreateLogger<TcpIngress>();
    }

    /// <summary>How long a closing connection waits for its peer to stop sending (see <see cref="CloseGracefullyAsync"/>).</summary>
    public static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);

    /// <summary>The bound address (the real port when the setting asked for port 0).</summary>
    public IPEndPoint? LocalEndpoint { get; private set; }

    public string Description => $"tcp {LocalEndpoint?.ToString() ?? _settings.Endpoint}";

    public Task StartAsync(IPipelineInbox inbox, CancellationToken cancellationToken)
    {
        var endpoint = HostPort.Parse(_settings.Endpoint);
        var listener = new TcpListener(endpoint);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            throw new ServiceStartException($"{ServiceOptions.SectionName}:Tcp:Endpoint: cannot listen on {endpoint}: {e.Message}", e);
        }

        _listener = listener;
        LocalEndpoint = (IPEndPoint)listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync(inbox);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken deadline)
    {
        await _stopReading.CancelAsync().ConfigureAwait(false);
        _listener?.Stop();
        try
        {
            await _acceptLoop.WaitAsync(deadline).ConfigureAwait(false);
            await Task.WhenAll(_connections.Values).WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _logger.LogWarning("TCP: shutdown deadline passed with {Connections} connections still delivering; closing them", _connections.Count);
            await _abort.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_connections.Values).ConfigureAwait(false);
        }
    }

    private async Task AcceptLoopAsync(IPipelineInbox inbox)
    {
        while (!_stopReading.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptSocketAsync(_stopReading.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stopReading.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                _logger.LogWarning("TCP: accept failed: {Reason}", e.Message);
                continue;
            }

            var id = Interlocked.Increment(ref _nextConnection);
            // Registered before it runs, so that its own removal at the end always finds it.
            var connection = new Task<Task>(() => ServeConnectionAsync(inbox, socket, id));
            _connections[id] = connection.Unwrap();
            connection.Start(TaskScheduler.Default);
        }
    }

    private async Task ServeConnectionAsync(IPipelineInbox inbox, Socket socket, int id)
    {
        var name = $"tcp {socket.RemoteEndPoint}";
        socket.NoDelay = true;
        if (_settings.SendBufferBytes > 0) socket.SendBufferSize = _settings.SendBufferBytes;
        var stream = new NetworkStream(socket, ownsSocket: true);
        var channel = new NdjsonStreamChannel(name, stream, stream, _loggers.CreateLogger<NdjsonStreamChannel>())
        {
            ReadBufferBytes = _settings.ReadBufferBytes,
            MaxLineBytes = _settings.MaxLineBytes,
        };
        PipelineConnection? connection = null;
        try
        {
            connection = inbox.Connect(channel, "tcp", _settings.MaxInFlightRecords);
            _logger.LogInformation("{Channel}: connected", name);
            await channel.RunAsync(connection, _stopReading.Token, _abort.Token).ConfigureAwait(false);
            _logger.LogInformation("{Channel}: closed after {Accepted} records, {Rejected} rejected", name, connection.Accepted, connection.Rejected);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "{Channel}: failed", name);
        }
        finally
        {
            connection?.Close();
            await CloseGracefullyAsync(socket, stream).ConfigureAwait(false);
            _connections.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// Sends FIN after the last output, then reads and discards what the peer still sends (until it closes, or
    /// for <see cref="LingerTime"/> at most) before closing: closing a socket with unread input makes the
    /// kernel send a reset, which can destroy outputs the peer has not read yet.
    /// </summary>
    private async Task CloseGracefullyAsync(Socket socket, NetworkStream stream)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            if (!_abort.IsCancellationRequested)
            {
                using var linger = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
                linger.CancelAfter(LingerTime);
                var discard = ArrayPool<byte>.Shared.Rent(16 * 1024);
                try
                {
                    while (await stream.ReadAsync(discard, linger.Token).ConfigureAwait(false) > 0)
                    {
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(discard);
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Closes the listener and every connection at once (after <see cref="StopAsync"/> there are none).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stopReading.CancelAsync().ConfigureAwait(false);
        _listener?.Stop();
        await _abort.CancelAsync().ConfigureAwait(false);
    }
}
