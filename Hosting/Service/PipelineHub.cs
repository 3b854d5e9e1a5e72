using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
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
/// The one pipeline every channel shares:
/// <code>
/// channel links ─► inbox (bounded, arrival order) ─► LstmPipeline ─► egress router ─► each row's channel
/// </code>
/// Steps of a key that arrive on different channels are processed in the order they entered the inbox.
/// The egress never waits for a channel: each channel's in-flight credit bounds what it can have pending, so
/// a slow channel only stops its own input.
/// </summary>
public sealed class PipelineHub
{
    private readonly ConcurrentDictionary<int, ChannelLink> _links = new();
    private readonly Channel<StepBatch> _inbox;
    private int _nextId;
    private long _steps;
    private Task _completion = Task.CompletedTask;
    private LstmPipelineHandle? _handle;

    public PipelineHub(ServiceMetrics metrics, ILogger<PipelineHub> logger, int inboxBatches = 16)
    {
        Metrics = metrics;
        Logger = logger;
        _inbox = Channel.CreateBounded<StepBatch>(new BoundedChannelOptions(inboxBatches)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    internal ServiceMetrics Metrics { get; }
    internal ILogger Logger { get; }

    /// <summary>The model's input size (every submitted row's width).</summary>
    public int InputSize { get; private set; }

    /// <summary>State access and session counters of the running pipeline.</summary>
    public LstmPipelineHandle Handle => _handle ?? throw new InvalidOperationException("the pipeline has not started");

    /// <summary>Completes when the pipeline has stopped (faulted when it failed).</summary>
    public Task Completion => _completion;

    /// <summary>Started and not yet completed.</summary>
    public bool IsRunning => _handle is not null && !_completion.IsCompleted;

    /// <summary>Steps (records) that have come out of the pipeline.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>The materializer the pipeline runs on (after start), for channels that run streams of their own.</summary>
    public IMaterializer? Materializer { get; private set; }

    /// <summary>The channels connected now.</summary>
    public IReadOnlyCollection<ChannelLink> Links => (IReadOnlyCollection<ChannelLink>)_links.Values;

    /// <summary>Materializes <paramref name="pipeline"/> between the inbox and the egress router.</summary>
    public void Start(Flow<StepBatch, StepBatch, LstmPipelineHandle> pipeline, int inputSize, IMaterializer materializer)
    {
        if (_handle is not null) throw new InvalidOperationException("the pipeline hub is already started");
        InputSize = inputSize;
        Materializer = materializer;
        var (handle, done) = ChannelSource.FromReader(_inbox.Reader)
            .ViaMaterialized(pipeline, Keep.Right)
            .ToMaterialized(Sink.ForEach<StepBatch>(Route), Keep.Both)
            .Run(materializer);
        _handle = handle;
        _completion = done.ContinueWith(t =>
        {
            foreach (var link in _links.Values) link.PipelineStopped();
            return t;
        }, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Connects <paramref name="channel"/>: its records may be submitted through the returned link.</summary>
    public ChannelLink Open(IRecordChannel channel, string kind, int maxInFlight)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        var id = Interlocked.Increment(ref _nextId);
        var link = new ChannelLink(this, id, channel, kind, maxInFlight);
        _links[id] = link;
        return link;
    }

    /// <summary>Takes no more input; completes when every batch already taken has passed the egress.</summary>
    public Task CompleteAsync()
    {
        _inbox.Writer.TryComplete();
        return _completion;
    }

    internal void Unregister(ChannelLink link) => _links.TryRemove(link.Id, out _);

    internal ValueTask EnqueueAsync(StepBatch batch, CancellationToken cancellationToken)
    {
        if (!IsRunning) throw new InvalidOperationException("the pipeline is not running");
        return _inbox.Writer.WriteAsync(batch, cancellationToken);
    }

    private void Route(StepBatch batch)
    {
        try
        {
            Metrics.BatchProcessed(batch.Count);
            Interlocked.Add(ref _steps, batch.Count);
            var now = Stopwatch.GetTimestamp();
            ChannelLink? link = null;
            var linkId = -1;
            for (var r = 0; r < batch.Count; r++)
            {
                var id = (int)(batch.Tags[r] >>> 32);
                if (id != linkId)
                {
                    linkId = id;
                    _links.TryGetValue(id, out link);
                }

                if (link is null)
                {
                    Metrics.OutputDropped();
                    continue;
                }

                try
                {
                    link.Deliver(batch, r, now);
                }
                catch (Exception e)
                {
                    Metrics.OutputDropped();
                    Logger.LogError(e, "{Channel}: output of key {Key} could not be delivered", link.Channel.Name, LoggedText.Of(batch.Keys[r]));
                }
            }
        }
        finally
        {
            batch.Release();
        }
    }
}
