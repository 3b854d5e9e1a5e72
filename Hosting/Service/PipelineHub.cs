using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Actors.Cluster;
using LstmStream.Actors.Persistence;
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
/// <para>
/// Cluster mode (<see cref="AttachRouting"/>): every accepted batch is split by bucket and sent to the bucket's owner
/// through the shard region as one <see cref="RoutedRecords"/> per bucket; the inbox takes the records routed here by the
/// bucket entities of this node (<see cref="Feed"/>), the outbox sends each row's output back to the node that
/// accepted it (<see cref="RoutedOutputs"/>), and that node's <see cref="RoutedOutputsActor"/> hands them to
/// <see cref="DeliverRouted"/>, which gives every row to its connection as the outbox does on one node.
/// </para>
/// <para>
/// Local owner shortcut: the rows of a bucket whose entity lives on this node (<see cref="BucketArrived"/>) and is not handed
/// off skip the shard region: <see cref="BucketRouter"/> puts them into the inbox itself (<see cref="EnterDirectly"/>, rows of
/// many buckets in one batch) and the outbox gives their outputs to their connections at once. See
/// <see cref="BucketRouter"/> for why a key's order holds across the switch.
/// </para>
/// </summary>
public sealed class PipelineHub : IPipelineInbox, IChannelLoad, IBucketPipeline
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
    private readonly RoutedRows _routedRows = new();
    private IActorRef? _shardRegion;
    private volatile BucketRouter? _router;
    private readonly object _hostedGate = new();
    private readonly HashSet<int> _hosted = [];
    // Routed outputs (RoutedOutputsActor) and the outbox's own deliveries (direct rows) reach connections one batch at a time.
    private readonly object _deliveryGate = new();
    private readonly ClusterMetrics? _clusterMetrics;
    private readonly CheckpointRounds? _rounds;
    private volatile IActorRef? _replyTo;
    private long _awaitingOutputs;

    /// <param name="inboxBatches">Most batches waiting in the inbox (a connection submitting more waits).</param>
    /// <param name="clusterMetrics">Cluster mode: the routing instruments.</param>
    /// <param name="rounds">
    /// Cluster mode with a session store: this node's checkpoint rounds. Outputs sent back carry the rounds begun here, each
    /// written round is told to the nodes whose records were stepped here, and outputs coming back are registered with the
    /// round of the node that stepped them (so sources acknowledge and commit only what the owner stored).
    /// </param>
    public PipelineHub(ServiceMetrics metrics, ChannelMetrics channelMetrics, ILoggerFactory loggers, TimeProvider time, int inboxBatches = 16,
        ClusterMetrics? clusterMetrics = null, CheckpointRounds? rounds = null)
    {
        _clusterMetrics = clusterMetrics;
        if (rounds is { Active: true })
        {
            _rounds = rounds;
            rounds.Written += TellOrigins;
        }

        clusterMetrics?.Attach(() => Interlocked.Read(ref _awaitingOutputs), () => _routedRows.InFlight, () => _router?.Queued ?? 0,
            () => _router?.Resent ?? 0, () => _router?.EnteredDirectly ?? 0);
        _time = time;
        _metrics = metrics;
        _channelMetrics = channelMetrics;
        _logger = loggers.CreateLogger<PipelineHub>();
        _connectionLogger = loggers.CreateLogger<PipelineConnection>();
        // Cluster mode: routed records come from bucket entities, which must not wait: they are taken beyond the bound
        // (HubInbox.TryWrite; the senders' in-flight credit bounds them); this node's connections wait for room before their rows enter, as on one
        // node (an unbounded inbox let a busy spell queue every connection's credit in small batches: pooled arrays
        // exhausted, the rest allocated and promoted, gen-1/gen-2 pauses of tens of ms).
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

    /// <summary>
    /// Cluster mode, before any channel connects: accepted records go to their bucket's owner through
    /// <paramref name="shardRegion"/> (buckets of <see cref="KeyBuckets.BucketOf"/> over <paramref name="bucketCount"/>) and
    /// their outputs come back to <paramref name="replyTo"/> (this node's <see cref="RoutedOutputsActor"/>).
    /// </summary>
    /// <param name="staleAfter">An envelope whose outputs have not come back after this long is given up (its owner died with it).</param>
    public void AttachRouting(IActorRef shardRegion, IActorRef replyTo, int bucketCount, TimeSpan staleAfter)
    {
        ArgumentNullException.ThrowIfNull(shardRegion);
        ArgumentNullException.ThrowIfNull(replyTo);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketCount);
        _replyTo = replyTo;
        var router = new BucketRouter(shardRegion, replyTo, bucketCount, staleAfter, EnterDirectly);
        lock (_hostedGate)
        {
            // Entities that started here before (routed from other nodes) open their gates now.
            foreach (var bucket in _hosted) router.Open(bucket);
            _router = router;
        }

        _shardRegion = shardRegion;
    }

    /// <summary>
    /// Cluster mode, called by a bucket entity when it starts on this node: once nothing of the bucket routed from this node
    /// is in flight, this node's records of it enter the pipeline directly.
    /// </summary>
    public void BucketArrived(int bucket)
    {
        lock (_hostedGate)
        {
            _hosted.Add(bucket);
            _router?.Open(bucket);
        }
    }

    /// <summary>Cluster mode, called by a bucket entity when it stops: this node's records of the bucket take the shard region.</summary>
    public void BucketLeft(int bucket)
    {
        lock (_hostedGate)
        {
            _hosted.Remove(bucket);
            _router?.Close(bucket);
        }
    }

    /// <summary>Cluster mode: records of this node's channels that a shard region dropped during a hand-off are routed again.</summary>
    public void Resend(RoutedRecords records)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (_router is null) return;
        _logger.LogWarning("Bucket {Bucket}: {Count} record(s) dropped by the shard region during a hand-off are routed again", records.Bucket, records.Count);
        _router.Resend(records);
    }

    /// <summary>Cluster mode: <paramref name="owner"/> (a node that steps this node's records) wrote its checkpoint round <paramref name="round"/>.</summary>
    public void OwnerWrote(IActorRef owner, long round) => _rounds?.OwnerWrote(owner, round);

    /// <summary>
    /// Cluster mode: the node at <paramref name="node"/> left the cluster or was downed; it will never write what it stepped for
    /// this node since its last checkpoint. When this node delivered any of that, its sources first make their clients deliver
    /// again what is not acknowledged or committed (<see cref="CheckpointRounds.OwnerGoneAsync"/>), then the node is not
    /// waited for any more.
    /// </summary>
    public void NodeGone(Address node)
    {
        if (_rounds is null) return;
        _ = ForgetOwnerAsync(_rounds, node);
    }

    private async Task ForgetOwnerAsync(CheckpointRounds rounds, Address node)
    {
        try
        {
            var waited = await rounds.OwnerGoneAsync(node).ConfigureAwait(false);
            if (waited > 0)
            {
                _logger.LogWarning("{Node} left the cluster before writing the checkpoint covering records it stepped for this node ({Rounds} checkpoint " +
                                   "round(s) waited on it): the sources were made to deliver again what is not acknowledged or committed (its successor " +
                                   "answers what its last checkpoint holds as duplicates)", node, waited);
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Forgetting {Node} (it left the cluster) failed: acknowledgements and commit records may stay held back", node);
        }
    }

    /// <summary>Cluster mode: buckets whose entity lives on this node now.</summary>
    public int BucketsHostedHere
    {
        get
        {
            lock (_hostedGate) return _hosted.Count;
        }
    }

    /// <summary>
    /// Cluster mode, a node leaving once every bucket it owned is handed off (each hand-off wrote its keys): tells every node
    /// whose records were stepped here that all of it is stored (<see cref="EverythingStepped"/>) and waits up to
    /// <paramref name="timeout"/> for their answers, so that they do not make their sources deliver again when this node is
    /// removed. Only nodes that <paramref name="staying"/> says stay are told (one leaving too needs nothing: its sources are
    /// drained). Returns how many nodes were told and how many answered (one that did not will replay: safe, only slower).
    /// </summary>
    public async Task<(int Told, int Answered)> TellOriginsEverythingSteppedAsync(Func<Address, bool> staying, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(staying);
        if (_rounds is null || _replyTo is not { } self) return (0, 0);
        var origins = _routedRows.Origins().Where(origin => !origin.Equals(self) && staying(origin.Path.Address)).ToArray();
        // One deadline for all the answers, not one timeout per node.
        using var deadline = new CancellationTokenSource(timeout);
        var answers = await Task.WhenAll(origins.Select(async origin =>
        {
            try
            {
                await origin.Ask<EverythingSteppedNoted>(new EverythingStepped(self), deadline.Token).ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                return false;
            }
        })).ConfigureAwait(false);
        return (origins.Length, answers.Count(answered => answered));
    }

    /// <summary>This node wrote round <paramref name="round"/>: every node whose records were stepped here is told (they wait for it).</summary>
    private void TellOrigins(long round)
    {
        if (_replyTo is not { } self) return;
        foreach (var origin in _routedRows.Origins())
            if (!origin.Equals(self)) origin.Tell(new CheckpointWritten(round), self);
    }

    /// <summary>Cluster mode, every few seconds: envelopes whose outputs did not come back in time (their owner died) are given up.</summary>
    public void CheckRoutes()
    {
        if (_router is null) return;
        foreach (var (bucket, records) in _router.ReleaseStale())
        {
            Interlocked.Add(ref _awaitingOutputs, -records);
            _logger.LogError("Bucket {Bucket}: no output for {Count} routed record(s) in time: their owner is gone; the bucket's later records go on", bucket,
                records);
        }
    }

    /// <summary>Rows routed here from some node's channels whose output has not gone back yet.</summary>
    public int RoutedRowsInFlight => _routedRows.InFlight;

    /// <summary>
    /// Cluster mode, called by a bucket entity of this node (in the order it received them): <paramref name="records"/>
    /// enter this node's pipeline; their outputs go back to <see cref="RoutedRecords.ReplyTo"/>.
    /// </summary>
    public void Feed(RoutedRecords records)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) return;
        if (records.Width != InputSize && InputSize != 0)
            throw new ArgumentException($"routed rows are {records.Width} wide, the model's input size is {InputSize}", nameof(records));
        var batch = StepBatch.Rent(records.Count, records.Width);
        for (var r = 0; r < records.Count; r++) batch.Add(records.Keys[r], records.Seq[r], records.Flags[r], 0);
        records.Data.AsSpan(0, records.Count * records.Width).CopyTo(batch.Data);
        _routedRows.Admit(records.ReplyTo, records.Bucket, records.Tags, batch.Tags.AsSpan(0, records.Count));
        if (!_inbox.TryWrite(batch))
        {
            // The pipeline has completed (the node is stopping): the records are not stepped here.
            foreach (var tag in batch.Tags.AsSpan(0, batch.Count)) _routedRows.Take(tag);
            batch.Release();
            throw new InvalidOperationException("the pipeline is not taking input (stopping)");
        }
    }

    /// <summary>
    /// Cluster mode, called by a bucket entity of this node when its shard moves: once the bucket's records fed so far have
    /// come out, the pipeline exports every live key of the bucket to the store and frees them.
    /// </summary>
    public async Task<(int Exported, int Freed)> ReleaseAsync(int bucket)
    {
        // This node's later records of the bucket take the region (which holds them for the next owner); those that
        // entered directly before are counted in the drain.
        lock (_hostedGate) _router?.Close(bucket);
        var drained = _routedRows.WhenDrained(bucket);
        // Before the pipeline runs, rows fed to it can only wait for it; once it has stopped, nothing comes out any more.
        if (_handle is null) await drained.ConfigureAwait(false);
        else await Task.WhenAny(drained, _completion).ConfigureAwait(false);
        if (!IsRunning) return (0, 0);
        return await _handle!.State.HandOffAsync(bucket).ConfigureAwait(false);
    }

    /// <summary>
    /// Cluster mode, called by this node's <see cref="RoutedOutputsActor"/>: outputs of records this node's channels accepted,
    /// stepped on <paramref name="owner"/> (that node's <see cref="RoutedOutputsActor"/>; this node's own: the local rounds
    /// cover them).
    /// </summary>
    public void DeliverRouted(RoutedOutputs outputs, IActorRef owner)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.Count == 0) return;
        // Before any source sees them: the sources' rounds are committed only once the owner has stored these.
        if (_rounds is not null && !owner.IsNobody() && !owner.Equals(_replyTo)) _rounds.RoutedDelivered(owner, outputs.OwnerRound);
        var batch = StepBatch.Rent(outputs.Count, Math.Max(1, outputs.Width));
        for (var r = 0; r < outputs.Count; r++) batch.Add(outputs.Keys[r], outputs.Seq[r], outputs.Flags[r], outputs.Tags[r]);
        outputs.Data.AsSpan(0, outputs.Count * outputs.Width).CopyTo(batch.Data);
        Interlocked.Add(ref _awaitingOutputs, -outputs.Count);
        DeliverToConnections(batch, fromOwner: true);
        // After the delivery: a bucket answered in full may go direct, and its direct outputs must come after these.
        _router?.Answered(outputs);
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

    /// <summary>
    /// Completes once every output the outbox has handed to a connection so far has left the process
    /// (<see cref="IChannelOutput.OutputsSentAsync"/> of each connected channel). The outbox runs in the pipeline's stream
    /// right after its last stage, so when a checkpoint's export of a bucket has come out of the pipeline, every output of
    /// a step before it has been handed over: the checkpoint calls this before it writes the bucket. Cluster mode: outputs
    /// sent back to another node are not followed.
    /// </summary>
    public Task OutputsSentAsync(CancellationToken cancellationToken)
    {
        List<Task>? pending = null;
        foreach (var connection in _connections.Values)
        {
            var sent = connection.Output.OutputsSentAsync(cancellationToken);
            if (!sent.IsCompletedSuccessfully) (pending ??= []).Add(sent);
        }

        return pending is null ? Task.CompletedTask : Task.WhenAll(pending);
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
        if (_shardRegion is null) return _inbox.WriteAsync(batch, cancellationToken);
        // Rows of this node's buckets enter the inbox: the connection waits for room first, as on one node.
        var room = _router!.AnyOpen ? _inbox.WaitForRoomAsync(cancellationToken) : ValueTask.CompletedTask;
        if (!room.IsCompletedSuccessfully) return SendToOwnersOnceRoomAsync(room, batch);
        Interlocked.Add(ref _awaitingOutputs, batch.Count);
        SendToOwners(batch);
        return ValueTask.CompletedTask;
    }

    private async ValueTask SendToOwnersOnceRoomAsync(ValueTask room, StepBatch batch)
    {
        await room.ConfigureAwait(false);
        Interlocked.Add(ref _awaitingOutputs, batch.Count);
        SendToOwners(batch);
    }

    /// <summary>
    /// Cluster mode: the batch's rows go to their buckets' owners (<see cref="BucketRouter"/>: one envelope per bucket in
    /// flight), or straight into the inbox for buckets whose entity lives here.
    /// </summary>
    private void SendToOwners(StepBatch batch)
    {
        // Thrown or refused: the connection releases the batch (nothing of it was taken).
        switch (_router!.Route(batch))
        {
            case BucketRouter.Routing.Taken:
                return;
            case BucketRouter.Routing.Refused:
                Interlocked.Add(ref _awaitingOutputs, -batch.Count);
                throw new InvalidOperationException("the pipeline is not taking input (stopping)");
            case BucketRouter.Routing.PartlyRefused:
                _logger.LogError("Records of buckets owned by this node were not stepped: the pipeline takes no more input (stopping)");
                break;
        }

        batch.Release();
    }

    /// <summary>
    /// Cluster mode, called by <see cref="BucketRouter"/> under its lock: rows of this node's channels whose bucket's entity
    /// lives here enter the inbox (their tags become slots of <see cref="RoutedRows.Direct"/>, so a hand-off of their bucket
    /// waits for them). False when the inbox takes no more input (the rows keep their tags).
    /// </summary>
    private bool EnterDirectly(StepBatch rows, ReadOnlySpan<int> buckets)
    {
        var tags = rows.Tags.AsSpan(0, rows.Count);
        _routedRows.AdmitDirect(buckets, tags);
        if (_inbox.TryWrite(rows)) return true;
        foreach (ref var tag in tags) tag = _routedRows.Take(tag).Tag;
        return false;
    }

    private void Route(StepBatch batch)
    {
        _metrics.BatchProcessed(batch.Count);
        Interlocked.Add(ref _steps, batch.Count);
        if (_shardRegion is null) DeliverToConnections(batch, fromOwner: false);
        else SendBackToOrigins(batch);
    }

    /// <summary>
    /// Cluster mode, on the outbox: each row's output goes back to the node that accepted it, one message per node and batch
    /// (several when it would be larger than <see cref="RoutedMessageSize.MaxRoutedBytes"/>); the outputs of rows that
    /// entered directly go to their connections from here.
    /// </summary>
    private void SendBackToOrigins(StepBatch batch)
    {
        var delivered = false;
        // The owner's stamp (CheckpointRounds rule): these steps are applied, and this node's next round begun holds them.
        var ownerRound = _rounds?.Begun ?? 0;
        try
        {
            var groups = RowGroups.ForThisThread;
            groups.Begin(batch.Count);
            for (var r = 0; r < batch.Count; r++)
            {
                var (origin, tag) = _routedRows.Take(batch.Tags[r]);
                batch.Tags[r] = tag;
                groups.Add(r, origin);
            }

            groups.End();
            for (var g = 0; g < groups.Count; g++)
            {
                if (groups.Group(g) == RoutedRows.Direct)
                {
                    var rows = groups.Rows(g);
                    Interlocked.Add(ref _awaitingOutputs, -rows.Length);
                    if (groups.Count == 1)
                    {
                        // Every row entered directly: the batch itself goes to the connections (which release it).
                        delivered = true;
                        DeliverToConnections(batch, fromOwner: false);
                        return;
                    }

                    DeliverToConnections(CopyRows(batch, rows), fromOwner: false);
                    continue;
                }

                var to = _routedRows.Origin(groups.Group(g));
                // Messages of at most RoutedMessageSize.MaxRoutedBytes, in order.
                for (var rows = groups.Rows(g); rows.Length > 0;)
                {
                    var fit = RoutedMessageSize.RowsThatFit(batch.Keys, rows, batch.Width);
                    var (keys, seq, flags, tags, data) = RowGroups.Copy(batch, rows[..fit]);
                    to.Tell(new RoutedOutputs(batch.Width, keys, seq, flags, tags, data) { OwnerRound = ownerRound }, _replyTo ?? ActorRefs.NoSender);
                    rows = rows[fit..];
                }
            }
        }
        finally
        {
            if (!delivered) batch.Release();
        }
    }

    /// <summary>A new batch of <paramref name="rows"/> of <paramref name="batch"/>, in order.</summary>
    private static StepBatch CopyRows(StepBatch batch, ReadOnlySpan<int> rows)
    {
        var copy = StepBatch.Rent(rows.Length, batch.Width);
        foreach (var r in rows)
        {
            var i = copy.Add(batch.Keys[r], batch.Seq[r], batch.Flags[r], batch.Tags[r]);
            batch.Row(r).CopyTo(copy.Row(i));
        }

        return copy;
    }

    /// <param name="fromOwner">The outputs came back from the bucket's owner: each connection's first row gives the routing latency.</param>
    private void DeliverToConnections(StepBatch batch, bool fromOwner)
    {
        Monitor.Enter(_deliveryGate);
        try
        {
            var now = Stopwatch.GetTimestamp();
            var batchNumber = _routedBatches++;
            PipelineConnection? connection = null;
            var connectionId = -1;
            var firstOfConnection = -1;
            for (var r = 0; r < batch.Count; r++)
            {
                var id = (int)(batch.Tags[r] >>> 32);
                if (id != connectionId)
                {
                    connectionId = id;
                    firstOfConnection = r;
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
                    var latency = connection.Deliver(batch, r, now);
                    if (fromOwner && r == firstOfConnection) _clusterMetrics?.RoutingLatency(latency);
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
            Monitor.Exit(_deliveryGate);
            batch.Release();
        }
    }
}
