using System.Collections.Concurrent;
using System.Diagnostics;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Operations;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;

namespace LstmStream.Hosting.Service;

/// <summary>
/// The inbox and the outbox of the one pipeline every channel shares:
/// <code>
/// connections ─► inbox (bounded, arrival order) ─► LstmPipeline ─► outbox (egress router) ─► each row's channel
/// </code>
/// Steps of a key that arrive on different channels are processed in the order they entered the inbox.
/// The outbox never waits for a channel: each channel's in-flight credit bounds what it can have pending, so
/// a slow channel only stops its own input. The hub does not run the pipeline: it hands out the graph
/// (<see cref="Graph"/>), which the pipeline's owner actor materializes, and is told the result
/// (<see cref="Attach"/>).
/// </summary>
public sealed class PipelineHub : IPipelineInbox, IChannelLoad
{
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<int, PipelineConnection> _connections = new();
    private readonly List<PipelineConnection> _routedTo = [];
    private long _routedBatches;
    private readonly HubInbox _inbox;
    private readonly ChannelMetrics _channelMetrics;
    private readonly ServiceMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ILogger _connectionLogger;
    private int _nextId;
    private long _steps;
    private Task _completion = Task.CompletedTask;
    private LstmPipelineHandle? _handle;

    public PipelineHub(ServiceMetrics metrics, ChannelMetrics channelMetrics, ILoggerFactory loggers, TimeProvider time, int inboxBatches = 16)
    {
        _time = time;
        _metrics = metrics;
        _channelMetrics = channelMetrics;
        _logger = loggers.CreateLogger<PipelineHub>();
        _connectionLogger = loggers.CreateLogger<PipelineConnection>();
        _inbox = new HubInbox(inboxBatches);
    }

    /// <summary>The model's input size (every submitted row's width); set by <see cref="Graph"/>.</summary>
    public int InputSize { get; private set; }

    /// <summary>State access and session counters of the running pipeline.</summary>
    public LstmPipelineHandle Handle => _handle ?? throw new InvalidOperationException("the pipeline has not started");

    /// <summary>Completes when the pipeline has stopped (faulted when it failed).</summary>
    public Task Completion => _completion;

    /// <summary>Started and not yet completed.</summary>
    public bool IsRunning => _handle is not null && !_completion.IsCompleted;

    /// <summary>Steps (records) that have come out of the pipeline.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>The channels connected now.</summary>
    public IReadOnlyCollection<PipelineConnection> Connections => (IReadOnlyCollection<PipelineConnection>)_connections.Values;

    public int Channels => _connections.Count;

    public long RecordsInFlight => _connections.Values.Sum(c => (long)c.Credit.InUse);

    /// <summary>
    /// The graph to materialize once: inbox → <paramref name="pipeline"/> → outbox. Its value is the pipeline's
    /// handle and the task that completes when the outbox has taken the last batch.
    /// </summary>
    public IRunnableGraph<(LstmPipelineHandle Handle, Task Completion)> Graph(Flow<StepBatch, StepBatch, LstmPipelineHandle> pipeline, int inputSize)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        if (_handle is not null) throw new InvalidOperationException("the pipeline hub is already started");
        InputSize = inputSize;
        return Source.FromGraph(new HubInboxSource(_inbox))
            .ViaMaterialized(pipeline, Keep.Right)
            .ToMaterialized(Sink.ForEach<StepBatch>(Route), (handle, done) => (handle, (Task)done));
    }

    /// <summary>The graph of <see cref="Graph"/> runs: connections may submit from now on.</summary>
    public void Attach(LstmPipelineHandle handle, Task completion)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentNullException.ThrowIfNull(completion);
        if (_handle is not null) throw new InvalidOperationException("the pipeline hub is already started");
        _handle = handle;
        _completion = completion.ContinueWith(t =>
        {
            foreach (var connection in _connections.Values) connection.PipelineStopped();
            return t;
        }, TaskScheduler.Default).Unwrap();
    }

    public PipelineConnection Connect(IChannelOutput output, string kind, int maxInFlight)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        var id = Interlocked.Increment(ref _nextId);
        var connection = new PipelineConnection(id, output, kind, maxInFlight, InputSize, EnqueueAsync, Disconnect, _channelMetrics, _connectionLogger, _time);
        _connections[id] = connection;
        return connection;
    }

    /// <summary>Takes no more input; completes when every batch already taken has passed the outbox.</summary>
    public Task CompleteAsync()
    {
        _inbox.Complete();
        return _completion;
    }

    private void Disconnect(PipelineConnection connection) => _connections.TryRemove(connection.Id, out _);

    private ValueTask EnqueueAsync(StepBatch batch, CancellationToken cancellationToken)
    {
        if (!IsRunning) throw new InvalidOperationException("the pipeline is not running");
        return _inbox.WriteAsync(batch, cancellationToken);
    }

    private void Route(StepBatch batch)
    {
        try
        {
            _metrics.BatchProcessed(batch.Count);
            Interlocked.Add(ref _steps, batch.Count);
            var now = Stopwatch.GetTimestamp();
            var batchNumber = _routedBatches++;
            PipelineConnection? connection = null;
            var connectionId = -1;
            for (var r = 0; r < batch.Count; r++)
            {
                var id = (int)(batch.Tags[r] >>> 32);
                if (id != connectionId)
                {
                    connectionId = id;
                    _connections.TryGetValue(id, out connection);
                    if (connection is not null && connection.RoutedBatch != batchNumber)
                    {
                        connection.RoutedBatch = batchNumber;
                        _routedTo.Add(connection);
                    }
                }

                if (connection is null)
                {
                    _channelMetrics.OutputDropped();
                    continue;
                }

                try
                {
                    connection.Deliver(batch, r, now);
                }
                catch (Exception e)
                {
                    _channelMetrics.OutputDropped();
                    _logger.LogError(e, "{Channel}: output of key {Key} could not be delivered", connection.Output.Name, LoggedText.Of(batch.Keys[r]));
                }
            }

            // Each channel sends what this batch gave it at once: one socket write per batch, not one per record.
            foreach (var routed in _routedTo)
            {
                try
                {
                    routed.EndOfBatch();
                }
                catch (Exception e)
                {
                    _logger.LogError(e, "{Channel}: outputs could not be sent", routed.Output.Name);
                }
            }
        }
        finally
        {
            _routedTo.Clear();
            batch.Release();
        }
    }
}
