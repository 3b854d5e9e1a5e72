using System.Diagnostics;
using Akka.Actor;
using Akka.Event;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// Takes the checkpoints of durable sessions: every <c>interval</c>, and when asked (<see cref="CheckpointNow"/>: the
/// admin path, graceful shutdown). A checkpoint asks the pipeline which buckets hold keys stepped since their last
/// checkpoint, adds the buckets the store was told evictions and deletes for, and then, bucket by bucket, has the
/// pipeline export that bucket's live keys to the store (the bucket actors keep no copy of live keys) and starts the
/// bucket's snapshot write. Up to <see cref="ExportsInFlight"/> exports travel through the stream together and up to
/// <see cref="WritesInFlight"/> writes are under way meanwhile, so at most that many buckets' copies are in flight
/// and the stream is held only while one bucket's rows are copied out.
/// <para>
/// A bucket that cannot be written (disk full, database down) does not stop the others nor the service: it is logged,
/// counted, kept for the next checkpoint, and the next one runs after a backoff (1 s, doubling up to
/// <c>maxRetryDelay</c>) instead of the interval; <see cref="SessionStoreFigures.IsDegraded"/> holds until a checkpoint
/// writes everything again. Checkpoints never overlap: a request waits for the one running.
/// </para>
/// <para>
/// Outputs before state: a bucket is written only once every output the pipeline gave out before that bucket's export
/// has left the process (<c>outputsSent</c>: MQTT publishes acknowledged by the broker). Else a crash between the write and
/// the publish would lose those outputs for good: the replayed records are then answered as duplicates (their effect is
/// stored), never with their <c>y</c>. Outputs not sent within <c>outputsTimeout</c> (broker unreachable) fail the bucket like
/// a store error: it is kept and retried.
/// </para>
/// </summary>
public sealed class CheckpointCoordinatorActor : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>Bucket writes a checkpoint keeps in flight while it exports the next buckets.</summary>
    public const int WritesInFlight = 4;

    /// <summary>Bucket exports a checkpoint sends through the stream together.</summary>
    public const int ExportsInFlight = 16;

    private readonly ICheckpointSource _source;
    private readonly PersistentSessionStore _store;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _maxRetryDelay;
    private readonly CheckpointRounds _rounds;
    private readonly Func<CancellationToken, Task>? _outputsSent;
    private readonly TimeSpan _outputsTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SortedSet<int> _retry = [];
    private TimeSpan _retryDelay = FirstRetryDelay;

    /// <param name="interval">Time between checkpoints; zero: only when asked.</param>
    /// <param name="rounds">Numbers the checkpoints and reports the written ones to the sources (acknowledgement, commit records); null: a private one.</param>
    /// <param name="outputsSent">Completes once every output given out by the pipeline before the call has left the process; null: outputs need no wait.</param>
    /// <param name="outputsTimeout">How long a bucket's write waits for <paramref name="outputsSent"/> before it fails (and is retried).</param>
    public CheckpointCoordinatorActor(ICheckpointSource source, PersistentSessionStore store, TimeSpan interval, TimeSpan maxRetryDelay,
        CheckpointRounds? rounds = null, Func<CancellationToken, Task>? outputsSent = null, TimeSpan outputsTimeout = default)
    {
        _source = source;
        _outputsSent = outputsSent;
        _outputsTimeout = outputsTimeout > TimeSpan.Zero ? outputsTimeout : TimeSpan.FromSeconds(30);
        _rounds = rounds ?? new CheckpointRounds(active: true);
        _store = store;
        _interval = interval;
        _maxRetryDelay = maxRetryDelay;
        ReceiveAsync<CheckpointNow>(async _ =>
        {
            var asker = Sender;
            var result = await RunAsync().ConfigureAwait(true);
            asker.Tell(result.Failure is null ? result.Completed : new Status.Failure(result.Failure));
        });
        ReceiveAsync<Tick>(async _ => await RunAsync().ConfigureAwait(true));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ICheckpointSource source, PersistentSessionStore store, TimeSpan interval, TimeSpan maxRetryDelay,
        CheckpointRounds? rounds = null, Func<CancellationToken, Task>? outputsSent = null, TimeSpan outputsTimeout = default) =>
        Akka.Actor.Props.Create(() => new CheckpointCoordinatorActor(source, store, interval, maxRetryDelay, rounds, outputsSent, outputsTimeout));

    protected override void PreStart() => Schedule(_interval);

    private async Task<(CheckpointCompleted Completed, SessionStoreException? Failure)> RunAsync()
    {
        var started = Stopwatch.GetTimestamp();
        var round = _rounds.Begin();
        int keys = 0, written = 0;
        long bytes = 0;
        var failed = new List<(int Bucket, Exception Reason)>();
        IReadOnlyList<int> dirty;
        try
        {
            dirty = await _source.DirtyBucketsAsync().ConfigureAwait(true);
        }
        catch (Exception e)
        {
            // The pipeline stopped or failed: nothing more can be read from it.
            var failure = new SessionStoreException($"the checkpoint could not read the pipeline: {e.Message}", e);
            Finish(started, 0, succeeded: false);
            return (new CheckpointCompleted(0, 0, 0, TimeSpan.Zero), failure);
        }

        var buckets = new SortedSet<int>(dirty);
        buckets.UnionWith(_store.TakePendingBuckets());
        buckets.UnionWith(_retry);
        _retry.Clear();
        // Up to ExportsInFlight buckets' exports travel through the stream together (each waits behind the batches in
        // flight, so one at a time would make a checkpoint of many buckets last far longer than its interval), and up to
        // WritesInFlight writes are under way meanwhile: at most that many buckets' copies at once, never all state.
        // Each bucket is exported and then written once per checkpoint, so its order holds. Every bucket written is
        // exported first, dirty or not: its live keys' states come from the pipeline, not from the bucket.
        var exporting = new Queue<(int Bucket, Task<int> Export)>();
        var writing = new Queue<(int Bucket, Task<BucketProtocol.BucketSaved> Write)>();
        foreach (var bucket in buckets)
        {
            exporting.Enqueue((bucket, _source.CheckpointAsync(bucket)));
            while (exporting.Count >= ExportsInFlight) await Exported(exporting.Dequeue()).ConfigureAwait(true);
        }

        while (exporting.Count > 0) await Exported(exporting.Dequeue()).ConfigureAwait(true);

        async Task Exported((int Bucket, Task<int> Export) pending)
        {
            try
            {
                keys += await pending.Export.ConfigureAwait(true);
                await OutputsSentAsync().ConfigureAwait(true);
                writing.Enqueue((pending.Bucket, _store.SaveBucketAsync(pending.Bucket, CancellationToken.None)));
            }
            catch (Exception e)
            {
                _retry.Add(pending.Bucket);
                failed.Add((pending.Bucket, e.GetBaseException()));
            }

            while (writing.Count >= WritesInFlight) await Written(writing.Dequeue()).ConfigureAwait(true);
        }

        while (writing.Count > 0) await Written(writing.Dequeue()).ConfigureAwait(true);

        async Task Written((int Bucket, Task<BucketProtocol.BucketSaved> Write) pending)
        {
            try
            {
                var saved = await pending.Write.ConfigureAwait(true);
                if (!saved.Written) return;
                written++;
                bytes += saved.Bytes;
            }
            catch (Exception e)
            {
                _retry.Add(pending.Bucket);
                failed.Add((pending.Bucket, e.GetBaseException()));
            }
        }

        var duration = Finish(started, keys, failed.Count == 0);
        var completed = new CheckpointCompleted(keys, written, bytes, duration);
        if (failed.Count == 0)
        {
            _rounds.Complete(round);
            return (completed, null);
        }

        var first = failed[0];
        var message = $"{failed.Count} of {buckets.Count} bucket(s) could not be written (bucket {first.Bucket}: {first.Reason.Message}); " +
                      $"they are kept and retried in {_retryDelay.TotalSeconds:0.#} s";
        _log.Warning("Checkpoint: {0}; serving goes on", message);
        return (completed, new SessionStoreException(message, first.Reason));
    }

    /// <summary>Waits until the outputs of every step the bucket's state holds have left the process (see the class remarks).</summary>
    private async Task OutputsSentAsync()
    {
        if (_outputsSent is null) return;
        using var timeout = new CancellationTokenSource(_outputsTimeout);
        try
        {
            await _outputsSent(timeout.Token).ConfigureAwait(true);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new SessionStoreException(
                $"the outputs of the steps it holds were not sent within {_outputsTimeout.TotalSeconds:0.#} s (is the MQTT broker reachable?), so it is not written yet");
        }
    }

    private TimeSpan Finish(long started, int keys, bool succeeded)
    {
        var duration = Stopwatch.GetElapsedTime(started);
        var wasDegraded = _store.Figures.IsDegraded;
        _store.Figures.Checkpoint(duration, keys, succeeded);
        if (succeeded)
        {
            if (wasDegraded) _log.Info("Checkpoint: the session store is written again (every bucket kept since the failure is stored now)");
            _retryDelay = FirstRetryDelay;
            Schedule(_interval);
        }
        else
        {
            Schedule(_retryDelay);
            _retryDelay = TimeSpan.FromTicks(Math.Min(_retryDelay.Ticks * 2, Math.Max(_maxRetryDelay.Ticks, FirstRetryDelay.Ticks)));
        }

        return duration;
    }

    private void Schedule(TimeSpan delay)
    {
        if (delay > TimeSpan.Zero) Timers.StartSingleTimer(nameof(Tick), Tick.Instance, delay);
    }

    /// <summary>Take a checkpoint now (after the one running). Answer: <see cref="CheckpointCompleted"/>, or a failure naming the buckets not written.</summary>
    public sealed record CheckpointNow
    {
        public static CheckpointNow Instance { get; } = new();
    }

    /// <param name="Keys">Keys exported from the pipeline.</param>
    /// <param name="Buckets">Bucket snapshots written.</param>
    /// <param name="Bytes">Their size.</param>
    public sealed record CheckpointCompleted(int Keys, int Buckets, long Bytes, TimeSpan Duration);

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }
}
