using System.Diagnostics;
using LstmStream.Hosting.Operations;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// The ingress half of the channel contract: one channel's connection to the shared pipeline, made by
/// <see cref="IPipelineInbox.Connect"/>. The channel submits parsed <see cref="StepBatch"/> fragments
/// (<see cref="SubmitAsync"/>), reports the records it rejected (<see cref="Reject"/>), gives credit back once
/// outputs have left (<see cref="Release"/>), and at the end of its input waits for the outputs of everything
/// it submitted (<see cref="CompleteInputAsync"/>) before it closes (<see cref="Close"/>).
/// <para>
/// The connection owns the rows' tags: a tag is <c>(connection id &lt;&lt; 32) | in-flight slot</c>, where the slot holds the
/// record's ingress time (for the end-to-end latency); whatever tag a submitted row had is overwritten.
/// </para>
/// </summary>
public sealed class PipelineConnection
{
    private readonly Func<StepBatch, CancellationToken, ValueTask> _enqueue;
    private readonly Action<PipelineConnection> _onClosed;
    private readonly ChannelMetrics _metrics;
    private readonly ILogger _logger;
    private readonly LogBudget _rejectionLog;
    private readonly object _slotGate = new();
    private readonly long[] _ingressTicks;
    private readonly int[] _freeSlots;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _freeCount;
    private long _accepted, _delivered, _rejected;
    private volatile bool _inputCompleted;
    private volatile bool _closed;

    /// <param name="id">The connection's number, the high half of its rows' tags.</param>
    /// <param name="output">Where the outputs and error records of the channel's records go.</param>
    /// <param name="kind">The channel kind, a metric tag.</param>
    /// <param name="maxInFlight">The credit limit.</param>
    /// <param name="inputSize">The width of every submitted row.</param>
    /// <param name="enqueue">Puts a tagged batch into the pipeline's inbox (waits while the inbox is full).</param>
    /// <param name="closed">Told once, when the channel closes (the outbox forgets the connection).</param>
    /// <param name="metrics">Records received and rejected, latency.</param>
    /// <param name="logger">Where rejected records are logged (at most <see cref="LogBudget.DefaultLinesPerInterval"/> a minute).</param>
    /// <param name="time">The clock of that log budget.</param>
    internal PipelineConnection(int id, IChannelOutput output, string kind, int maxInFlight, int inputSize,
        Func<StepBatch, CancellationToken, ValueTask> enqueue, Action<PipelineConnection> closed, ChannelMetrics metrics, ILogger logger,
        TimeProvider? time = null)
    {
        _rejectionLog = new LogBudget(time);
        Id = id;
        Output = output;
        Kind = kind;
        InputSize = inputSize;
        _enqueue = enqueue;
        _onClosed = closed;
        _metrics = metrics;
        _logger = logger;
        Credit = new InFlightCredit(maxInFlight);
        _ingressTicks = new long[maxInFlight];
        _freeSlots = new int[maxInFlight];
        for (var i = 0; i < maxInFlight; i++) _freeSlots[i] = maxInFlight - 1 - i;
        _freeCount = maxInFlight;
    }

    public int Id { get; }

    /// <summary>Where the outputs and error records of this channel's records go.</summary>
    public IChannelOutput Output { get; }

    /// <summary>The model's input size: the width of every submitted row.</summary>
    public int InputSize { get; }

    /// <summary>The channel kind, a metric tag: tcp, console, simulator, mqtt.</summary>
    public string Kind { get; }

    /// <summary>In-flight records (and error records) of this channel; see <see cref="IChannelOutput"/>.</summary>
    public InFlightCredit Credit { get; }

    /// <summary>Most rows one <see cref="SubmitAsync"/> may carry (the credit limit).</summary>
    public int MaxInFlight => Credit.Limit;

    /// <summary>Records that entered the pipeline.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Records whose output was handed to <see cref="IChannelOutput.OnOutput"/>.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Records the channel rejected.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>
    /// Waits until at least one record of credit is free (a reader asks this before reading more input, so a
    /// channel whose outputs are not being taken stops reading).
    /// </summary>
    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken) => Credit.AcquireAsync(0, cancellationToken);

    /// <summary>
    /// Puts <paramref name="batch"/>'s rows into the shared pipeline once they fit into the credit; the
    /// pipeline owns the batch afterwards. On cancellation or when the pipeline has stopped taking input, the
    /// batch is released, nothing of it was accepted, and the exception is thrown.
    /// </summary>
    public async ValueTask SubmitAsync(StepBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.IsControl) throw new ArgumentException("a channel submits data batches only", nameof(batch));
        var rows = batch.Count;
        if (rows == 0)
        {
            batch.Release();
            return;
        }

        try
        {
            if (rows > MaxInFlight)
                throw new ArgumentException($"batch of {rows} rows exceeds the connection's {MaxInFlight} in-flight records", nameof(batch));
            if (_inputCompleted || _closed)
                throw new InvalidOperationException($"channel {Output.Name} already completed its input");
            if (batch.Width != InputSize)
                throw new ArgumentException($"batch rows are {batch.Width} wide, the model's input size is {InputSize}", nameof(batch));
            await Credit.AcquireAsync(rows, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            batch.Release();
            throw;
        }

        TagRows(batch);
        Interlocked.Add(ref _accepted, rows);
        try
        {
            await _enqueue(batch, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Add(ref _accepted, -rows);
            FreeSlots(batch);
            Credit.Release(rows);
            batch.Release();
            throw;
        }

        _metrics.RecordsReceived(Kind, rows);
    }

    /// <summary>
    /// <see cref="SubmitAsync"/> for each batch in order, removing each from <paramref name="batches"/> as the
    /// pipeline takes it over; on failure the batches not yet submitted stay in the list (the caller releases them).
    /// </summary>
    public async ValueTask SubmitAllAsync(List<StepBatch> batches, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batches);
        while (batches.Count > 0)
        {
            var batch = batches[0];
            batches.RemoveAt(0);
            await SubmitAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A record the channel could not accept: counted, logged (escaped and cut; at most <see cref="LogBudget.DefaultLinesPerInterval"/>
    /// lines a minute per connection, the next line saying how many were held back), and passed to
    /// <see cref="IChannelOutput.OnError"/>, holding one unit of credit until the channel <see cref="Release"/>s it.
    /// </summary>
    public void Reject(RecordError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Credit.Charge(1);
        Interlocked.Increment(ref _rejected);
        _metrics.RecordRejected(Kind);
        if (_rejectionLog.TryWrite(out var heldBack))
        {
            if (heldBack == 0) _logger.LogWarning("{Channel}: rejected record: {Error}", Output.Name, LoggedText.Of(error.ToString(), LoggedText.RecordMaxChars));
            else
                _logger.LogWarning("{Channel}: rejected record: {Error} ({HeldBack} rejected records before it were not logged, at most {Lines} lines a minute)",
                    Output.Name, LoggedText.Of(error.ToString(), LoggedText.RecordMaxChars), heldBack, _rejectionLog.LinesPerInterval);
        }

        Output.OnError(error);
    }

    /// <summary>Gives back the credit of <paramref name="records"/> outputs or error records that have left the channel.</summary>
    public void Release(int records) => Credit.Release(records);

    /// <summary>
    /// The channel submits nothing more; completes once every accepted record's output has been handed to
    /// <see cref="IChannelOutput.OnOutput"/> (or the pipeline stopped).
    /// </summary>
    public Task CompleteInputAsync()
    {
        _inputCompleted = true;
        CheckDrained();
        return _drained.Task;
    }

    /// <summary>Disconnects the channel; outputs of its records still in the pipeline are dropped (counted).</summary>
    public void Close()
    {
        _closed = true;
        _onClosed(this);
        _drained.TrySetResult();
    }

    /// <summary>Called by the pipeline's outbox on the egress thread for each output row of this channel; returns the row's latency.</summary>
    internal TimeSpan Deliver(StepBatch batch, int row, long nowTicks)
    {
        var slot = (int)(batch.Tags[row] & 0xFFFF_FFFF);
        long ingress;
        lock (_slotGate)
        {
            ingress = _ingressTicks[slot];
            _freeSlots[_freeCount++] = slot;
        }

        var latency = Stopwatch.GetElapsedTime(ingress, nowTicks);
        _metrics.RecordLatency(latency, Kind);
        try
        {
            Output.OnOutput(batch, row);
        }
        finally
        {
            Interlocked.Increment(ref _delivered);
            CheckDrained();
        }

        return latency;
    }

    /// <summary>The outbox's number of the last batch that delivered to this connection (egress thread only).</summary>
    internal long RoutedBatch { get; set; } = -1;

    /// <summary>Called by the outbox once per batch, after its last <see cref="Deliver"/> to this connection.</summary>
    internal void EndOfBatch() => Output.OnOutputsDelivered();

    /// <summary>The pipeline stopped: nothing more will be delivered.</summary>
    internal void PipelineStopped() => _drained.TrySetResult();

    private void CheckDrained()
    {
        if (_inputCompleted && Interlocked.Read(ref _delivered) >= Interlocked.Read(ref _accepted)) _drained.TrySetResult();
    }

    private void TagRows(StepBatch batch)
    {
        var now = Stopwatch.GetTimestamp();
        var high = (long)Id << 32;
        lock (_slotGate)
        {
            for (var r = 0; r < batch.Count; r++)
            {
                // Credit was acquired for these rows, so there are at least as many free slots.
                var slot = _freeSlots[--_freeCount];
                _ingressTicks[slot] = now;
                batch.Tags[r] = high | (uint)slot;
            }
        }
    }

    private void FreeSlots(StepBatch batch)
    {
        lock (_slotGate)
        {
            for (var r = 0; r < batch.Count; r++) _freeSlots[_freeCount++] = (int)(batch.Tags[r] & 0xFFFF_FFFF);
        }
    }
}
