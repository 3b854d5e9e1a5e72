using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using LstmStream.Actors.Persistence;
using LstmStream.Hosting.Channels.Tls;
using LstmStream.Pipeline.Records;
using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Options;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// The NDJSON TCP listener (<c>LstmStream:Tcp</c>): every connection is its own <see cref="NdjsonStreamChannel"/>
/// with <see cref="TcpSettings.MaxInFlightRecords"/> of credit; its outputs and error records come back on the
/// same connection, in input order per key. A connection ends when the peer closes its sending side (after
/// every output has been written) or disconnects; neither disturbs other connections.
/// <para>
/// With a session store (<see cref="CheckpointRounds.Active"/>) every connection also gets commit records after each
/// written checkpoint (<see cref="PendingCommits"/>); at stop the connections stay open until the drain's final checkpoint
/// (taken once every connection's outputs were handed over) has sent its commit records, so a client that stops with the
/// service learns what is stored.
/// </para>
/// </summary>
public sealed class TcpIngress : IIngress, IAsyncDisposable
{
    private readonly TcpSettings _settings;
    private readonly LimitsSettings _limits;
    private readonly ILogger<TcpIngress> _logger;
    private readonly ILoggerFactory _loggers;
    private readonly ConcurrentDictionary<int, Task> _connections = new();
    private readonly ConcurrentDictionary<int, NdjsonStreamChannel> _committing = new();
    private readonly ConcurrentDictionary<int, CancellationTokenSource> _drops = new();
    private readonly CheckpointRounds? _rounds;
    private readonly TaskCompletionSource _finalCommit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopReading = new();
    private readonly CancellationTokenSource _abort = new();
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _nextConnection;
    private int _disposed;
    private readonly TcpClientDirectory _clients;
    private readonly ChannelMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly LogBudget _refusalLog;
    private ServerCertificate? _certificate;
    private ClientCertificateCheck? _clientCheck;

    /// <param name="rounds">The session store's checkpoint rounds: with an active one, connections get commit records.</param>
    public TcpIngress(IOptions<ServiceOptions> options, ILoggerFactory loggers, ChannelMetrics metrics, TimeProvider time,
        CheckpointRounds? rounds = null)
    {
        _rounds = rounds is { Active: true } ? rounds : null;
        _metrics = metrics;
        _time = time;
        _refusalLog = new LogBudget(time);
        _settings = options.Value.Tcp;
        _limits = options.Value.Limits;
        _clients = new TcpClientDirectory(_settings.Clients);
        _loggers = loggers;
        _logger = loggers.CreateLogger<TcpIngress>();
    }

    /// <summary>How long a closing connection waits for its peer to stop sending (see <see cref="CloseGracefullyAsync"/>).</summary>
    public static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The most input a closing connection reads and discards (see <see cref="CloseGracefullyAsync"/>): a peer that
    /// goes on sending past it, e.g. during the shutdown drain, is no longer read (its sends stall) and is closed when
    /// <see cref="LingerTime"/> is up, instead of being read all that time (gigabytes on loopback).
    /// </summary>
    public const int MaxLingerBytes = 1 << 20;

    /// <summary>The bound address (the real port when the setting asked for port 0).</summary>
    public IPEndPoint? LocalEndpoint { get; private set; }

    public string Description => $"tcp {LocalEndpoint?.ToString() ?? _settings.Endpoint}";

    /// <summary>How long a client may take for the TLS handshake and its authentication line.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The longest authentication line (<c>{"auth":"TOKEN"}</c>) read.</summary>
    public const int MaxAuthLineBytes = 4096;

    public Task StartAsync(IPipelineInbox inbox, CancellationToken cancellationToken)
    {
        var endpoint = HostPort.Parse(_settings.Endpoint);
        if (_settings.Tls.Enabled)
        {
            _certificate = new ServerCertificate(_settings.Tls, _logger, _time);
            if (!string.IsNullOrWhiteSpace(_settings.Tls.ClientCaFile)) _clientCheck = new ClientCertificateCheck(_settings.Tls.ClientCaFile);
        }
        else if (!IPAddress.IsLoopback(endpoint.Address))
        {
            _logger.LogWarning("TCP: listening on {Endpoint} WITHOUT TLS (Tcp:AllowPlaintext): anyone who reaches this port can read outputs and feed any key " +
                               "its client list allows; set Tcp:Tls:CertificateFile", endpoint);
        }

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
        if (_rounds is not null)
        {
            _rounds.Committed += OnCommitted;
            _rounds.OnOwnerLost(DropCommittingConnectionsAsync);
        }
        _acceptLoop = AcceptLoopAsync(inbox);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops reading and accepting. Without commit records every connection then delivers its outputs and closes. With
    /// them, the connections stay open once every output was handed over, so that the commit records of the drain's final
    /// checkpoint still reach their clients (<see cref="FinishAsync"/> closes them).
    /// </summary>
    public async Task StopAsync(CancellationToken deadline)
    {
        await _stopReading.CancelAsync().ConfigureAwait(false);
        _listener?.Stop();
        try
        {
            await _acceptLoop.WaitAsync(deadline).ConfigureAwait(false);
            if (_rounds is null) await Task.WhenAll(_connections.Values).WaitAsync(deadline).ConfigureAwait(false);
            else await Task.WhenAll(_committing.Values.Select(c => c.OutputsHandedOver)).WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await AbortConnectionsAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After the drain's final checkpoint (written or not): its commit records were handed to the connections' write
    /// loops (<see cref="OnCommitted"/>); each connection writes what it still holds and closes. A failed final
    /// checkpoint committed nothing more, and the client resends after reconnecting.
    /// </summary>
    public async Task FinishAsync(CancellationToken deadline)
    {
        _finalCommit.TrySetResult();
        var open = _committing.Count;
        try
        {
            await Task.WhenAll(_connections.Values).WaitAsync(deadline).ConfigureAwait(false);
            if (_rounds is not null && open > 0)
                _logger.LogInformation("TCP: commit records sent before closing {Connections} connection(s) (last written checkpoint round {Round})", open,
                    _rounds.LastCommitted);
        }
        catch (OperationCanceledException)
        {
            await AbortConnectionsAsync().ConfigureAwait(false);
        }
    }

    private async Task AbortConnectionsAsync()
    {
        _logger.LogWarning("TCP: shutdown deadline passed with {Connections} connections still delivering; closing them", _connections.Count);
        await _abort.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
    }

    /// <summary>
    /// Cluster mode: a node that stepped records of these connections left before storing them. Every connection that gets
    /// commit records is closed (before any later commit record could name those records): a client that keeps its records
    /// until committed reconnects and resends the rest, and the owner's successor answers what its checkpoint holds as
    /// duplicates.
    /// </summary>
    private async Task DropCommittingConnectionsAsync()
    {
        var closing = new List<Task>();
        foreach (var (id, drop) in _drops)
        {
            try
            {
                await drop.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                continue; // that connection has just ended
            }

            if (_connections.TryGetValue(id, out var served)) closing.Add(served);
        }

        if (closing.Count == 0) return;
        _logger.LogWarning("TCP: closing {Connections} connection(s): a node that stepped their records left the cluster before storing them; clients " +
                           "resend what is not committed", closing.Count);
        await Task.WhenAll(closing).ConfigureAwait(false);
    }

    /// <summary>On the checkpoint coordinator's thread: hands the round to every connection's write loop.</summary>
    private void OnCommitted(long round)
    {
        foreach (var channel in _committing.Values) channel.OnCommitted(round);
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

            if (_connections.Count >= _settings.MaxConnections)
            {
                _ = RefuseAsync(socket);
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
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        PipelineConnection? connection = null;
        try
        {
            var (secured, client, alreadyRead, refusal) = await SecureAndIdentifyAsync(stream, name).ConfigureAwait(false);
            stream = secured;
            if (refusal is not null)
            {
                LogRefusal(name, refusal);
                _metrics.ConnectionRefused("auth");
                await WriteRefusalAsync(stream, refusal).ConfigureAwait(false);
                return;
            }

            if (client is not null) name = $"{name} ({client.Name})";
            var channel = new NdjsonStreamChannel(name, stream, stream, _loggers.CreateLogger<NdjsonStreamChannel>())
            {
                ReadBufferBytes = _settings.ReadBufferBytes,
                ReadsHonourCancellation = true,
                MaxLineBytes = _limits.MaxLineBytes,
                MaxKeyBytes = _limits.MaxKeyBytes,
                AlreadyRead = alreadyRead,
                FirstLineNumber = client is not null && _clientCheck is null ? 2 : 1,
                Authorize = client is null ? null : (batches, reject) => TcpClientDirectory.Authorize(client, batches, reject),
                IdleTimeout = _settings.IdleTimeout,
                Time = _time,
                CommitRounds = _rounds,
                FinalCommit = _rounds is null ? null : _finalCommit.Task,
            };
            connection = inbox.Connect(channel, "tcp", _settings.MaxInFlightRecords);
            _logger.LogInformation("{Channel}: connected", name);
            // Dropped (cluster mode, an owner lost what it stepped): reading stops and the connection closes at once.
            using var drop = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(_stopReading.Token, drop.Token);
            if (_rounds is not null)
            {
                _committing[id] = channel;
                _drops[id] = drop;
            }

            await channel.RunAsync(connection, reading.Token, drop.Token).ConfigureAwait(false);
            if (channel.IdledOut) _metrics.ConnectionIdleClosed();
            _logger.LogInformation("{Channel}: closed after {Accepted} records, {Rejected} rejected", name, connection.Accepted, connection.Rejected);
        }
        catch (TlsHandshakeFailedException)
        {
            _metrics.ConnectionRefused("tls");
        }
        catch (Exception e)
        {
            _logger.LogError(e, "{Channel}: failed", name);
        }
        finally
        {
            connection?.Close();
            _committing.TryRemove(id, out _);
            _drops.TryRemove(id, out _);
            await CloseGracefullyAsync(socket, stream).ConfigureAwait(false);
            _connections.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// The TLS handshake (when configured) and the client's identity (when clients are configured): from its
    /// certificate under mutual TLS, else from a first line <c>{"auth":"TOKEN"}</c>. A refusal says why, for the log
    /// and for the error record the client gets before the connection closes.
    /// </summary>
    private async Task<(Stream Stream, TcpClientSettings? Client, ReadOnlyMemory<byte> AlreadyRead, string? Refusal)> SecureAndIdentifyAsync(
        Stream stream, string name)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopReading.Token);
        deadline.CancelAfter(HandshakeTimeout);
        string? certificateName = null;
        if (_certificate is not null)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            try
            {
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = _certificate.Current,
                    ClientCertificateRequired = _clientCheck is not null,
                    RemoteCertificateValidationCallback = _clientCheck is null ? null : _clientCheck.Validate,
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                }, deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or SocketException)
            {
                LogRefusal(name, $"TLS handshake failed: {(e is OperationCanceledException ? "timed out" : e.Message)}");
                await ssl.DisposeAsync().ConfigureAwait(false);
                throw new TlsHandshakeFailedException();
            }

            stream = ssl;
            if (_clientCheck is not null && ssl.RemoteCertificate is { } presented) certificateName = ClientCertificateCheck.IdentityOf(presented);
        }

        if (!_clients.RequiresIdentity) return (stream, null, default, null);
        if (certificateName is not null)
        {
            var byName = _clients.ByName(certificateName);
            return byName is null
                ? (stream, null, default, $"the client certificate's name '{LoggedText.Of(certificateName)}' is not among Tcp:Clients")
                : (stream, byName, default, null);
        }

        var (token, rest, problem) = await ReadAuthLineAsync(stream, deadline.Token).ConfigureAwait(false);
        if (problem is not null) return (stream, null, default, problem);
        var byToken = _clients.ByToken(token);
        return byToken is null ? (stream, null, default, "the token is not one of Tcp:Clients") : (stream, byToken, rest, null);
    }

    /// <summary>Reads the first line, <c>{"auth":"TOKEN"}</c>: the token's bytes and whatever was read after the line.</summary>
    private static async Task<(byte[] Token, ReadOnlyMemory<byte> Remainder, string? Problem)> ReadAuthLineAsync(Stream stream, CancellationToken deadline)
    {
        var buffer = new byte[MaxAuthLineBytes];
        int filled = 0, newline = -1;
        try
        {
            while (newline < 0 && filled < buffer.Length)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(filled), deadline).ConfigureAwait(false);
                if (read == 0) return ([], default, "the connection ended before its authentication line {\"auth\":\"TOKEN\"}");
                newline = Array.IndexOf(buffer, (byte)'\n', filled, read);
                filled += read;
            }
        }
        catch (OperationCanceledException)
        {
            return ([], default, $"no authentication line within {HandshakeTimeout.TotalSeconds:F0} s");
        }

        if (newline < 0) return ([], default, $"the first line is longer than {MaxAuthLineBytes} bytes; it must be {{\"auth\":\"TOKEN\"}}");
        var token = AuthToken(buffer.AsSpan(0, newline));
        return token is null
            ? ([], default, "the first line must be {\"auth\":\"TOKEN\"} (Tcp:Clients requires every connection to identify itself)")
            : (token, buffer.AsMemory(newline + 1, filled - newline - 1), null);
    }

    private static byte[]? AuthToken(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            byte[]? token = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isAuth = reader.ValueTextEquals("auth"u8);
                if (!reader.Read()) return null;
                if (isAuth && reader.TokenType == JsonTokenType.String) token = Encoding.UTF8.GetBytes(reader.GetString()!);
                else reader.Skip();
            }

            return reader.TokenType == JsonTokenType.EndObject ? token : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task WriteRefusalAsync(Stream stream, string reason, string field = "auth")
    {
        try
        {
            var line = NdjsonOutputFormatter.FormatError(new RecordError(1, null, field, reason)) + "\n";
            await stream.WriteAsync(Encoding.UTF8.GetBytes(line)).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// A connection beyond <see cref="TcpSettings.MaxConnections"/>: one error record (in plain text, before any TLS
    /// handshake) and closed at once; counted, and logged at most once a minute.
    /// </summary>
    private async Task RefuseAsync(Socket socket)
    {
        _metrics.ConnectionRefused("limit");
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastRefusalLog) >= 60_000)
        {
            Interlocked.Exchange(ref _lastRefusalLog, now);
            _logger.LogWarning("TCP: {Connections} connections are open, the limit (Tcp:MaxConnections); new ones are refused until some close",
                _settings.MaxConnections);
        }

        await using var stream = new NetworkStream(socket, ownsSocket: true);
        await WriteRefusalAsync(stream, $"the service has {_settings.MaxConnections} connections open, its limit (Tcp:MaxConnections); try again later", "connection")
            .ConfigureAwait(false);
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
    }

    private long _lastRefusalLog = -60_000;

    /// <summary>A refused connection (handshake or identity), logged within the refusal log budget.</summary>
    private void LogRefusal(string channel, string reason)
    {
        if (!_refusalLog.TryWrite(out var heldBack)) return;
        if (heldBack == 0) _logger.LogWarning("{Channel}: refused: {Reason}", channel, reason);
        else
            _logger.LogWarning("{Channel}: refused: {Reason} ({HeldBack} refusals before it were not logged, at most {Lines} lines a minute)",
                channel, reason, heldBack, _refusalLog.LinesPerInterval);
    }

    /// <summary>The handshake failed (already logged): the connection closes.</summary>
    private sealed class TlsHandshakeFailedException : Exception;

    /// <summary>
    /// Sends FIN after the last output, then reads and discards what the peer still sends (until it closes, or
    /// for <see cref="LingerTime"/> and <see cref="MaxLingerBytes"/> at most) before closing: closing a socket with unread input makes the
    /// kernel send a reset, which can destroy outputs the peer has not read yet.
    /// </summary>
    private async Task CloseGracefullyAsync(Socket socket, Stream stream)
    {
        try
        {
            if (stream is SslStream { IsAuthenticated: true } ssl) await ssl.ShutdownAsync().ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Send);
            if (!_abort.IsCancellationRequested)
            {
                using var linger = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
                linger.CancelAfter(LingerTime);
                var discard = ArrayPool<byte>.Shared.Rent(16 * 1024);
                try
                {
                    long discarded = 0;
                    int read;
                    while (discarded <= MaxLingerBytes && (read = await stream.ReadAsync(discard, linger.Token).ConfigureAwait(false)) > 0)
                        discarded += read;
                    // A peer still sending is no longer read: its sends stall once the socket buffers are full, while
                    // it can still read the outputs already sent; the socket closes when the linger time is up.
                    if (discarded > MaxLingerBytes) await Task.Delay(Timeout.Infinite, linger.Token).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(discard);
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException
                                       or NotSupportedException or InvalidOperationException)
        {
            // Closing is best effort: a peer that has gone, or a TLS stream whose cancelled read has not ended yet.
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
        if (_rounds is not null) _rounds.Committed -= OnCommitted;
        _finalCommit.TrySetResult();
        _certificate?.Dispose();
        await _stopReading.CancelAsync().ConfigureAwait(false);
        _listener?.Stop();
        await _abort.CancelAsync().ConfigureAwait(false);
    }
}
