using System.Buffers;
using System.Net.Sockets;
using System.Threading.Channels;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// A channel over a pair of byte streams carrying NDJSON (a TCP connection, stdin/stdout): input lines are
/// parsed with <see cref="NdjsonBatchDecoder"/> and submitted; outputs and error records are formatted with
/// <see cref="NdjsonOutputFormatter"/> as the outbox hands them over and written by one writer loop, woken once per
/// routed batch (<see cref="OnOutputsDelivered"/>): what is ready goes out in one write, with no timer and (on TCP)
/// no Nagle delay; the loop gives the credit back once written. An idle write loop runs on the thread that wakes it
/// (the outbox's), so the write starts there and then, not after a hop through the thread pool; a write the stream
/// cannot take at once goes on asynchronously. Before each read the reader waits for free credit, so a peer that does not read its outputs stops
/// being read (TCP backpressure) while others go on.
/// <para>
/// Lifecycle (<see cref="RunAsync"/>): read until end of input or the stop token; records already read are
/// still submitted; then wait until every accepted record's output was handed over, write it all, and return.
/// A peer that has gone (write fails) loses the outputs still to come; they are discarded and their credit is
/// given back, so nothing else waits for it.
/// </para>
/// <para>
/// With an <see cref="IdleTimeout"/>, a peer that has sent nothing for that long while nothing of it is pending
/// (no record in flight, no output written in that time) stops being read: it gets one error record
/// (<c>"field":"connection"</c>) and the channel ends as at the end of its input (<see cref="IdledOut"/>).
/// </para>
/// <para>
/// With <see cref="CommitRounds"/> (TCP with a session store) the channel keeps, per key it fed, the <c>seq</c> of its
/// delivered outputs (<see cref="PendingCommits"/>) and, after each written checkpoint (<see cref="OnCommitted"/>), the
/// write loop sends a commit record per key the checkpoint newly covers, after the outputs it covers.
/// </para>
/// </summary>
public sealed class NdjsonStreamChannel : IChannelOutput
{
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    // Synchronous continuations: a wake-up of the parked write loop runs it on the waking thread (the outbox's, once
    // per routed batch), so a batch's outputs are written before the outbox moves on, with no thread-pool hop and no
    // second thread to wake; a write the socket cannot take at once completes asynchronously and frees that thread.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        AllowSynchronousContinuations = true,
    });
    private ArrayBufferWriter<byte> _pending = new(4096);
    private ArrayBufferWriter<byte> _writing = new(4096);
    private int _pendingRecords;
    private long _lastActivity;
    private bool _outputComplete;
    private volatile bool _broken;
    private PendingCommits? _commits;
    private long _committedRound;
    private long _reportedRound;
    private readonly TaskCompletionSource _handedOver = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public NdjsonStreamChannel(string name, Stream input, Stream output, ILogger logger)
    {
        Name = name;
        _input = input;
        _output = output;
        _logger = logger;
    }

    public string Name { get; }

    /// <summary>Bytes asked of the input stream per read.</summary>
    public int ReadBufferBytes { get; init; } = 16 * 1024;

    /// <summary>
    /// The input stream's reads end when their token fires (sockets, TLS over them): each read is awaited as it is,
    /// with no task made of it per read. False (stdin): a read that ignores the token is abandoned at the stop instead.
    /// </summary>
    public bool ReadsHonourCancellation { get; init; }

    /// <summary>Longest accepted line, in bytes.</summary>
    public int MaxLineBytes { get; init; } = NdjsonBatchDecoder.DefaultMaxLineBytes;

    /// <summary>Longest accepted key, in UTF-8 bytes.</summary>
    public int MaxKeyBytes { get; init; } = NdjsonRecordParser.DefaultMaxKeyBytes;

    /// <summary>Input already read from the stream before the channel started (after a handshake line): decoded first.</summary>
    public ReadOnlyMemory<byte> AlreadyRead { get; init; }

    /// <summary>The line number of the channel's first record line (2 after a handshake line), as errors name it.</summary>
    public long FirstLineNumber { get; init; } = 1;

    /// <summary>
    /// Checks every parsed batch before it is submitted: may take rows out (compacting the batch, or releasing and
    /// removing it when empty) and reject them with the given callback (e.g. keys the client may not write).
    /// </summary>
    public Action<List<StepBatch>, Action<RecordError>>? Authorize { get; init; }

    /// <summary>How long a peer may send nothing while nothing of it is pending before it is closed; zero: never.</summary>
    public TimeSpan IdleTimeout { get; init; }

    /// <summary>The clock of <see cref="IdleTimeout"/>.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// The session store's checkpoint rounds (TCP with a store): the channel sends commit records. Null, or not
    /// <see cref="CheckpointRounds.Active"/>: none.
    /// </summary>
    public CheckpointRounds? CommitRounds
    {
        get;
        init
        {
            field = value;
            _commits = value is { Active: true } ? new PendingCommits() : null;
        }
    }

    /// <summary>
    /// When the stop token ended the reading: after every output was handed over (<see cref="OutputsHandedOver"/>) the
    /// channel waits for this task before it writes its last bytes and ends, so the commit records of the checkpoint
    /// the service takes at stop still reach the client. Null: no wait.
    /// </summary>
    public Task? FinalCommit { get; init; }

    /// <summary>Completes once every accepted record's output was handed to the channel (or the channel ended).</summary>
    public Task OutputsHandedOver => _handedOver.Task;

    /// <summary>True once the channel stopped reading because of <see cref="IdleTimeout"/>.</summary>
    public bool IdledOut { get; private set; }

    public void OnOutput(StepBatch batch, int row)
    {
        lock (_gate)
        {
            NdjsonOutputFormatter.WriteRow(batch, row, _pending);
            _pendingRecords++;
            if (_commits is not null && (batch.Flags[row] & StepFlags.HasSeq) != 0)
                _commits.Delivered(batch.Keys[row], batch.Seq[row], CommitRounds!.Begun);
        }
    }

    /// <summary>
    /// Checkpoint round <paramref name="round"/> is written (<see cref="CheckpointRounds.Committed"/>): the write loop
    /// sends the commit records it brings. Never blocks.
    /// </summary>
    public void OnCommitted(long round)
    {
        if (_commits is null) return;
        long seen;
        while (round > (seen = Volatile.Read(ref _committedRound)) && Interlocked.CompareExchange(ref _committedRound, round, seen) != seen)
        {
        }

        _wake.Writer.TryWrite(true);
    }

    /// <summary>
    /// The outbox has formatted this batch's outputs for the channel: the write loop sends them in one write. When the
    /// loop is idle the write is made on this thread before this returns (as far as the stream takes it at once).
    /// </summary>
    public void OnOutputsDelivered() => _wake.Writer.TryWrite(true);

    public void OnError(RecordError error)
    {
        lock (_gate)
        {
            NdjsonOutputFormatter.WriteError(error, _pending);
            _pendingRecords++;
        }

        _wake.Writer.TryWrite(true);
    }

    /// <summary>
    /// Runs the channel on <paramref name="connection"/>: returns when the input has ended (or <paramref name="stopReading"/>
    /// fired) and every output of an accepted record has been written, or when <paramref name="abort"/> fires.
    /// </summary>
    public async Task RunAsync(PipelineConnection connection, CancellationToken stopReading, CancellationToken abort)
    {
        ArgumentNullException.ThrowIfNull(connection);
        Volatile.Write(ref _lastActivity, Time.GetTimestamp());
        var writer = WriteLoopAsync(connection, abort);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(stopReading);
        using var idleCheck = IdleTimeout > TimeSpan.Zero ? StartIdleCheck(connection, reading) : null;
        try
        {
            await ReadLoopAsync(connection, reading.Token, abort).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (reading.IsCancellationRequested || abort.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            _logger.LogInformation("{Channel}: input closed ({Reason})", Name, e.Message);
        }
        catch (InvalidOperationException e) when (!abort.IsCancellationRequested)
        {
            // The pipeline stopped taking input (it failed or is shutting down).
            _logger.LogWarning("{Channel}: input stopped: {Reason}", Name, e.Message);
        }

        try
        {
            await connection.CompleteInputAsync().WaitAsync(abort).ConfigureAwait(false);
            _handedOver.TrySetResult();
            if (FinalCommit is not null && stopReading.IsCancellationRequested && !_broken) await FinalCommit.WaitAsync(abort).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _handedOver.TrySetResult();
        }

        lock (_gate) _outputComplete = true;
        _wake.Writer.TryWrite(true);
        await writer.ConfigureAwait(false);
    }

    /// <summary>
    /// A timer that checks, when the peer has been quiet for <see cref="IdleTimeout"/>, whether it still is and nothing
    /// of it is pending; then it stops the reading. Reads and writes only note the time, so they cost no timer change.
    /// </summary>
    private ITimer StartIdleCheck(PipelineConnection connection, CancellationTokenSource reading)
    {
        ITimer? timer = null;
        timer = Time.CreateTimer(_ =>
        {
            var quiet = Time.GetElapsedTime(Volatile.Read(ref _lastActivity));
            if (connection.Credit.InUse > 0) timer!.Change(IdleTimeout, Timeout.InfiniteTimeSpan);
            else if (quiet < IdleTimeout) timer!.Change(IdleTimeout - quiet, Timeout.InfiniteTimeSpan);
            else
            {
                IdledOut = true;
                try
                {
                    reading.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The channel ended meanwhile.
                }
            }
        }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        timer.Change(IdleTimeout, Timeout.InfiniteTimeSpan);
        return timer;
    }

    /// <summary>An error record for the peer that holds no credit (it answers no record of its own).</summary>
    private void Notify(RecordError error)
    {
        lock (_gate) NdjsonOutputFormatter.WriteError(error, _pending);
        _wake.Writer.TryWrite(true);
    }

    private async Task ReadLoopAsync(PipelineConnection connection, CancellationToken stopReading, CancellationToken abort)
    {
        var ready = new List<StepBatch>();
        var parser = new NdjsonRecordParser(connection.InputSize, maxKeyBytes: MaxKeyBytes);
        var maxRows = Math.Min(connection.MaxInFlight, 256);
        using var decoder = new NdjsonBatchDecoder(parser, maxRows, ready.Add, connection.Reject, MaxLineBytes) { FirstLineNumber = FirstLineNumber };
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
        Task<int>? pendingRead = null;
        try
        {
            if (!AlreadyRead.IsEmpty)
            {
                decoder.Decode(AlreadyRead.Span);
                decoder.Flush();
                Authorize?.Invoke(ready, connection.Reject);
                await connection.SubmitAllAsync(ready, abort).ConfigureAwait(false);
            }

            while (true)
            {
                await connection.WaitForRoomAsync(stopReading).ConfigureAwait(false);
                int read;
                if (ReadsHonourCancellation)
                {
                    read = await _input.ReadAsync(buffer.AsMemory(0, ReadBufferBytes), stopReading).ConfigureAwait(false);
                }
                else
                {
                    // A read that ignores the token (stdin) is abandoned at the stop, not waited for.
                    pendingRead = _input.ReadAsync(buffer.AsMemory(0, ReadBufferBytes), stopReading).AsTask();
                    read = await pendingRead.WaitAsync(stopReading).ConfigureAwait(false);
                }

                Volatile.Write(ref _lastActivity, Time.GetTimestamp());
                if (read == 0)
                {
                    decoder.Complete();
                    Authorize?.Invoke(ready, connection.Reject);
                    await connection.SubmitAllAsync(ready, abort).ConfigureAwait(false);
                    return;
                }

                decoder.Decode(buffer.AsSpan(0, read));
                decoder.Flush();
                Authorize?.Invoke(ready, connection.Reject);
                // Records already read are accepted even when the stop comes now: only the abort token cuts them.
                await connection.SubmitAllAsync(ready, abort).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (IdledOut)
        {
            // The read was cancelled with the token (sockets honour it): let it end before the connection is closed.
            if (pendingRead is not null) await Task.WhenAny(pendingRead, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
            _logger.LogInformation("{Channel}: nothing received for {Timeout} and nothing pending: closed (idle timeout)", Name, IdleTimeout);
            Notify(new RecordError(decoder.Summary.Lines + 1, null, "connection",
                $"nothing received for {IdleTimeout.TotalSeconds:0.###} s and nothing pending: the connection is closed (idle timeout)"));
        }
        finally
        {
            foreach (var b in ready) b.Release();
            // An abandoned read may still write into the buffer: then it is left to the GC, not returned.
            if (pendingRead is null || pendingRead.IsCompleted) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task WriteLoopAsync(PipelineConnection connection, CancellationToken abort)
    {
        // The loop waits for its wake-up without a token (the channel then reuses one waiter instead of making one per
        // wait); the abort completes the wake-up channel instead, which ends the wait.
        await using var aborting = abort.UnsafeRegister(static wake => ((Channel<bool>)wake!).Writer.TryComplete(), _wake).ConfigureAwait(false);
        try
        {
            while (true)
            {
                int records;
                bool last;
                lock (_gate)
                {
                    // Commit records go after the outputs they cover (formatted before), each a whole line.
                    if (_commits is not null && Volatile.Read(ref _committedRound) is var round && round > _reportedRound)
                    {
                        _commits.Commit(round, _pending);
                        _reportedRound = round;
                    }

                    (_pending, _writing) = (_writing, _pending);
                    records = _pendingRecords;
                    _pendingRecords = 0;
                    last = _outputComplete;
                }

                if (_writing.WrittenCount > 0)
                {
                    if (!_broken)
                    {
                        try
                        {
                            await _output.WriteAsync(_writing.WrittenMemory, abort).ConfigureAwait(false);
                            await _output.FlushAsync(abort).ConfigureAwait(false);
                            Volatile.Write(ref _lastActivity, Time.GetTimestamp());
                        }
                        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                        {
                            _broken = true;
                            _logger.LogInformation("{Channel}: peer gone, outputs to it are discarded ({Reason})", Name, e.Message);
                        }
                    }

                    if (records > 0) connection.Release(records);
                }

                _writing.ResetWrittenCount();
                if (_writing.Capacity > 1 << 20) _writing = new ArrayBufferWriter<byte>(4096);
                if (last)
                {
                    lock (_gate)
                    {
                        if (_pendingRecords == 0) return;
                    }

                    continue;
                }

                // Only the abort completes the wake-up channel.
                if (!await _wake.Reader.WaitToReadAsync().ConfigureAwait(false)) throw new OperationCanceledException(abort);
                _wake.Reader.TryRead(out _);
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            int lost;
            lock (_gate) lost = _pendingRecords;
            if (lost > 0) _logger.LogWarning("{Channel}: shutdown deadline passed, {Records} outputs not written", Name, lost);
        }
    }
}
