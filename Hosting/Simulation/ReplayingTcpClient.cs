using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace LstmStream.Hosting.Simulation;

/// <summary>How <see cref="ReplayingTcpClient"/> talks to the service.</summary>
public sealed record ReplayingTcpClientSettings
{
    /// <summary>The service's TCP endpoint.</summary>
    public required IPEndPoint Endpoint { get; init; }

    /// <summary>
    /// Keep every record until a commit record covers it; after a disconnect reconnect and resend what is not
    /// committed. False: send once, close the sending side, read the outputs until the service closes.
    /// </summary>
    public bool Resend { get; init; }

    /// <summary>How long to keep trying to connect (at the start and after a disconnect) before giving up.</summary>
    public TimeSpan RetryFor { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The most records waiting for a commit record; at the bound no new record is sent until commits come.</summary>
    public int MaxUncommitted { get; init; } = 100_000;

    /// <summary>How long records may wait for a commit record, with none arriving, before the client gives up.</summary>
    public TimeSpan CommitWait { get; init; } = TimeSpan.FromSeconds(60);

    public void Validate()
    {
        if (RetryFor < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RetryFor), RetryFor, "--retry-for must not be negative");
        if (MaxUncommitted <= 0) throw new ArgumentOutOfRangeException(nameof(MaxUncommitted), MaxUncommitted, "--max-uncommitted must be positive");
        if (CommitWait <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CommitWait), CommitWait, "--commit-wait must be positive");
    }
}

/// <summary>
/// <c>lstmstream simulate --connect HOST:PORT</c>: sends the simulator's records to the service over TCP and writes every
/// answer (output <c>{"key","seq","y"}</c> or duplicate record) to the output, error records to the log.
/// <para>
/// With <see cref="ReplayingTcpClientSettings.Resend"/> it is the client that durable sessions make exactly-once: it
/// keeps every record until a commit record <c>{"key":K,"committed":S}</c> says the store holds K up to <c>seq</c> S,
/// and when the connection drops (the service was killed or restarted) it reconnects, retrying, and first resends
/// every record not committed, in the order it first sent them; the service's <c>seq</c> check answers those it had
/// already applied with duplicate records. It ends once every record is committed (then closes its sending side and
/// reads to the end), so the outputs it wrote hold every record's answer at least once.
/// </para>
/// </summary>
public sealed class ReplayingTcpClient
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(2);

    private readonly SensorSimulator _simulator;
    private readonly SensorSimulatorSettings _source;
    private readonly ReplayingTcpClientSettings _settings;
    private readonly Stream _output;
    private readonly TextWriter _log;
    private readonly string[] _keys;
    private readonly object _gate = new();
    private readonly Dictionary<string, Queue<Kept>> _kept = new(StringComparer.Ordinal);
    private readonly Channel<bool> _committed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private int _uncommitted;
    private long _ordinal;
    private long _lastCommitTicks = Stopwatch.GetTimestamp();
    private readonly Stopwatch _paced = new();

    public ReplayingTcpClient(SensorSimulator simulator, SensorSimulatorSettings source, ReplayingTcpClientSettings settings, Stream output, TextWriter log)
    {
        settings.Validate();
        _simulator = simulator;
        _source = source;
        _settings = settings;
        _output = output;
        _log = log;
        _keys = Enumerable.Range(0, source.Keys).Select(i => source.KeyPrefix + i).ToArray();
    }

    /// <summary>Records sent for the first time.</summary>
    public long Sent { get; private set; }

    /// <summary>Records sent again after a reconnect.</summary>
    public long Resent { get; private set; }

    /// <summary>Connections after the first.</summary>
    public int Reconnects { get; private set; }

    /// <summary>Answers (outputs and duplicate records) received.</summary>
    public long Answers { get; private set; }

    /// <summary>Duplicate records among <see cref="Answers"/>.</summary>
    public long Duplicates { get; private set; }

    /// <summary>Commit records received.</summary>
    public long Commits { get; private set; }

    /// <summary>Error records received.</summary>
    public long Errors { get; private set; }

    private bool AllProduced => _source.Count > 0 && _simulator.Produced >= _source.Count;

    /// <summary>
    /// Runs until every record is answered (and, resending, committed). Throws <see cref="IOException"/> when the service
    /// cannot be reached for <see cref="ReplayingTcpClientSettings.RetryFor"/>, closes the connection early (not resending)
    /// or sends no commit record for <see cref="ReplayingTcpClientSettings.CommitWait"/>.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _paced.Start();
        for (var connection = 0;; connection++)
        {
            if (connection > 0) Reconnects++;
            using var socket = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastCommitTicks, Stopwatch.GetTimestamp());
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            using var session = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var reading = ReadAsync(stream, session.Token);
            var writing = WriteAsync(socket, stream, session.Token);
            // The reader ends when the service closes the connection (after our last record's answers, or killed); the writer
            // after closing our sending side, when the connection failed, or when no commit record came for too long.
            if (await Task.WhenAny(reading, writing).ConfigureAwait(false) == writing && writing.IsFaulted) await session.CancelAsync().ConfigureAwait(false);
            try
            {
                await reading.ConfigureAwait(false);
            }
            finally
            {
                await session.CancelAsync().ConfigureAwait(false);
                socket.Close();
                try
                {
                    await writing.ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (Finished) return;
            if (!_settings.Resend)
                throw new IOException($"the service at {_settings.Endpoint} closed the connection before every record was answered " +
                                      $"({Answers} of {Sent} answers); --resend reconnects and resends");
            await _log.WriteLineAsync($"simulate: connection to {_settings.Endpoint} lost; reconnecting to resend {Volatile.Read(ref _uncommitted)} uncommitted record(s)")
                .ConfigureAwait(false);
        }
    }

    private volatile bool _finished;

    /// <summary>Every record was sent (and, resending, committed), and the service closed the connection after the last answer.</summary>
    private bool Finished => _finished && (_settings.Resend || Answers >= Sent);

    private async Task<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        var giveUp = Stopwatch.StartNew();
        var delay = FirstRetryDelay;
        while (true)
        {
            var socket = new Socket(_settings.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(_settings.Endpoint, cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                if (giveUp.Elapsed >= _settings.RetryFor)
                    throw new IOException($"cannot connect to {_settings.Endpoint} (tried for {_settings.RetryFor.TotalSeconds:0.#} s): {e.Message}", e);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    private async Task WriteAsync(Socket socket, NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        try
        {
            if (_settings.Resend) await ResendAsync(stream, buffer, cancellationToken).ConfigureAwait(false);
            while (!AllProduced)
            {
                if (_settings.Resend && Volatile.Read(ref _uncommitted) >= _settings.MaxUncommitted)
                {
                    await FlushAsync(stream, buffer, cancellationToken).ConfigureAwait(false);
                    await WaitForCommitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                Produce(buffer);
                if (_source.Rate > 0)
                {
                    var wait = TimeSpan.FromSeconds(_simulator.Produced / _source.Rate) - _paced.Elapsed;
                    if (wait > TimeSpan.FromMilliseconds(1))
                    {
                        await FlushAsync(stream, buffer, cancellationToken).ConfigureAwait(false);
                        await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                    }
                }

                if (buffer.WrittenCount > 1 << 15) await FlushAsync(stream, buffer, cancellationToken).ConfigureAwait(false);
            }

            await FlushAsync(stream, buffer, cancellationToken).ConfigureAwait(false);
            if (_settings.Resend)
            {
                while (Volatile.Read(ref _uncommitted) > 0) await WaitForCommitAsync(cancellationToken).ConfigureAwait(false);
            }

            _finished = true;
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException || (e is IOException && e.InnerException is SocketException))
        {
            // The connection dropped: the reader sees it too; the records stay kept.
        }
    }

    /// <summary>Every record not committed yet, in the order first sent.</summary>
    private async Task ResendAsync(NetworkStream stream, ArrayBufferWriter<byte> buffer, CancellationToken cancellationToken)
    {
        Kept[] again;
        lock (_gate) again = _kept.Values.SelectMany(q => q).OrderBy(k => k.Ordinal).ToArray();
        foreach (var kept in again)
        {
            buffer.Write(kept.Line);
            if (buffer.WrittenCount > 1 << 15) await FlushAsync(stream, buffer, cancellationToken).ConfigureAwait(false);
        }

        Resent += again.Length;
        await FlushAsync(stream, buffer, cancellationToken).ConfigureAwait(false);
    }

    private void Produce(ArrayBufferWriter<byte> buffer)
    {
        var start = buffer.WrittenCount;
        var (sensor, seq) = _simulator.WriteNext(buffer);
        Sent++;
        if (!_settings.Resend) return;
        var line = buffer.WrittenSpan[start..].ToArray();
        lock (_gate)
        {
            var key = _keys[sensor];
            if (!_kept.TryGetValue(key, out var queue)) _kept[key] = queue = new Queue<Kept>();
            queue.Enqueue(new Kept(_ordinal++, seq, line));
            _uncommitted++;
        }
    }

    private async Task WaitForCommitAsync(CancellationToken cancellationToken)
    {
        var quiet = Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastCommitTicks));
        var left = _settings.CommitWait - quiet;
        if (left <= TimeSpan.Zero)
        {
            throw new IOException($"no commit record from {_settings.Endpoint} for {_settings.CommitWait.TotalSeconds:0.#} s while " +
                                          $"{Volatile.Read(ref _uncommitted)} record(s) wait for one: does the service have a session store (LstmStream:Sessions:Store)?");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(left);
        try
        {
            await _committed.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Checked again by the caller's loop.
        }
    }

    private static async Task FlushAsync(NetworkStream stream, ArrayBufferWriter<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.WrittenCount == 0) return;
        await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        buffer.ResetWrittenCount();
    }

    private async Task ReadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 16];
        int filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                var read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                filled += read;
                var consumed = 0;
                int newline;
                while ((newline = Array.IndexOf(buffer, (byte)'\n', consumed, filled - consumed)) >= 0)
                {
                    await AnswerAsync(buffer.AsMemory(consumed, newline + 1 - consumed), cancellationToken).ConfigureAwait(false);
                    consumed = newline + 1;
                }

                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // Killed or restarted service: the caller reconnects.
        }
        finally
        {
            await _output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>One line from the service: an answer (to the output), a commit record or an error record (to the log).</summary>
    private async Task AnswerAsync(ReadOnlyMemory<byte> line, CancellationToken cancellationToken)
    {
        var (key, committed, isError) = Classify(line.Span);
        if (committed is { } seq)
        {
            Commits++;
            Commit(key!, seq);
            return;
        }

        if (isError)
        {
            Errors++;
            await _log.WriteAsync(Encoding.UTF8.GetString(line.Span)).ConfigureAwait(false);
            return;
        }

        Answers++;
        if (line.Span.IndexOf("\"duplicate\":true"u8) >= 0) Duplicates++;
        await _output.WriteAsync(line, cancellationToken).ConfigureAwait(false);
    }

    private void Commit(string key, long seq)
    {
        lock (_gate)
        {
            if (!_kept.TryGetValue(key, out var queue)) return;
            while (queue.Count > 0 && queue.Peek().Seq <= seq)
            {
                queue.Dequeue();
                _uncommitted--;
            }
        }

        Interlocked.Exchange(ref _lastCommitTicks, Stopwatch.GetTimestamp());
        _committed.Writer.TryWrite(true);
    }

    private static (string? Key, long? Committed, bool IsError) Classify(ReadOnlySpan<byte> line)
    {
        if (line.IndexOf("\"committed\""u8) < 0) return (null, null, line.IndexOf("\"error\""u8) >= 0 && line.IndexOf("\"y\""u8) < 0);
        var reader = new Utf8JsonReader(line);
        string? key = null;
        long? committed = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (null, null, true);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isKey = reader.ValueTextEquals("key"u8);
                var isCommitted = reader.ValueTextEquals("committed"u8);
                reader.Read();
                if (isKey && reader.TokenType == JsonTokenType.String) key = reader.GetString();
                else if (isCommitted && reader.TokenType == JsonTokenType.Number) committed = reader.GetInt64();
                else reader.Skip();
            }
        }
        catch (JsonException)
        {
            return (null, null, true);
        }

        return key is null || committed is null ? (null, null, true) : (key, committed, false);
    }

    private readonly record struct Kept(long Ordinal, long Seq, byte[] Line);
}
