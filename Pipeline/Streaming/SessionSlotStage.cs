using Akka.Streams;
using Akka.Streams.Stage;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Gives every row its key's state slot (<see cref="StepBatch.Slots"/>) and keeps keys' sessions (a
/// <see cref="SessionLifecycle"/> over a <see cref="SlotTable"/>). A key's first step (new slot) gets
/// <see cref="StepFlags.Reset"/>, so the layers start it from zero state; an <see cref="StepFlags.End"/> step
/// frees the key's slot after the batch, so a slot is never used twice in one batch. Keys idle for
/// <see cref="PipelineOptions.IdleTimeout"/> are evicted when the next item arrives and, while no data flows,
/// by a timer of the options' <see cref="PipelineOptions.TimeProvider"/>; a new key beyond
/// <see cref="PipelineOptions.MaxLiveKeys"/> evicts the least recently used key not in its batch. A key twice
/// in one batch is an error (the batcher rules it out). Control batches get the slots of the keys they name.
/// The materialized <see cref="SessionCounters"/> shows the figures.
/// <para>
/// With a <see cref="PipelineOptions.SessionStore"/>, rows of keys that are not live wait in a bounded buffer
/// while one <see cref="ISessionStore.LoadAsync"/> per batch loads their stored state (retried with backoff on a
/// fault); the other rows go on at once. Waiting rows go out as batches of their own once loaded, oldest first,
/// a key at most once per batch. A state request naming a key with waiting rows waits for them (and holds the
/// input behind it); other requests pass. While the buffer has no room for another batch, input is not pulled.
/// </para>
/// </summary>
internal sealed class SessionSlotStage : GraphStageWithMaterializedValue<FlowShape<StepBatch, StepBatch>, SessionCounters>
{
    /// <summary>Longest single wait of the idle timer (a timer re-armed after it simply checks again).</summary>
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromHours(1);

    private readonly Inlet<StepBatch> _in = new("SessionSlot.in");
    private readonly Outlet<StepBatch> _out = new("SessionSlot.out");
    /// <summary>First wait before a failed load of stored state is tried again; doubled per failure up to <see cref="MaxRetryDelay"/>.</summary>
    internal static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest wait between tries of a failing load.</summary>
    internal static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly PipelineOptions _options;
    private readonly Models.LstmModel? _model;

    /// <summary>A session stage whose keys never expire and are not bounded.</summary>
    public SessionSlotStage() : this(new PipelineOptions())
    {
    }

    /// <param name="options">Idle timeout, live-key bound, clock, eviction observer and session store (validated here).</param>
    /// <param name="model">The model the pipeline runs (needed with a session store).</param>
    public SessionSlotStage(PipelineOptions options, Models.LstmModel? model = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.SessionStore is not null && model is null)
            throw new ArgumentException($"a session stage with a {nameof(PipelineOptions.SessionStore)} needs the model", nameof(model));
        _options = options;
        _model = model;
        Shape = new FlowShape<StepBatch, StepBatch>(_in, _out);
    }

    public override FlowShape<StepBatch, StepBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("SessionSlot");

    public override ILogicAndMaterializedValue<SessionCounters> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var counters = new SessionCounters();
        return new LogicAndMaterializedValue<SessionCounters>(new Logic(this, counters), counters);
    }

    /// <summary>
    /// How late after its expiry an idle key may be freed while no data flows: an eighth of the timeout,
    /// between 1 ms and 1 s, so that keys expiring close together are freed by one timer call.
    /// </summary>
    internal static TimeSpan IdleCheckSlack(TimeSpan idleTimeout) =>
        TimeSpan.FromTicks(Math.Clamp(idleTimeout.Ticks / 8, TimeSpan.TicksPerMillisecond, TimeSpan.TicksPerSecond));

    private sealed class Logic : GraphStageLogic
    {
        private readonly SessionSlotStage _stage;
        private readonly SessionCounters _counters;
        private readonly SessionLifecycle _sessions;
        private readonly Queue<StepBatch> _outbox = new();
        private readonly CancellationTokenSource _stopping = new();
        private readonly int _maxRows;
        private readonly int _inputSize;
        private Action<LoadOutcome>? _loaded;
        private Action<(string[] Keys, int Attempt)>? _retry;
        private ITimer? _idleTimer;
        private bool _idleTimerArmed;
        private StepBatch? _held;
        private bool _inputDone;
        private bool _waitingMayGo;

        public Logic(SessionSlotStage stage, SessionCounters counters) : base(stage.Shape)
        {
            _stage = stage;
            _counters = counters;
            _sessions = new SessionLifecycle(stage._options, stage._model);
            _maxRows = stage._options.MaxBatchRows;
            _inputSize = stage._model?.InputSize ?? 1;
            SetHandler(stage._in, onPush: OnPush, onUpstreamFinish: OnUpstreamFinish);
            SetHandler(stage._out, onPull: Progress);
        }

        public override void PreStart()
        {
            if (_sessions.Store is not null)
            {
                _loaded = GetAsyncCallback<LoadOutcome>(OnLoaded);
                _retry = GetAsyncCallback<(string[] Keys, int Attempt)>(retry => Load(retry.Keys, retry.Attempt));
                _sessions.TransferAccepted = GetAsyncCallback(Progress);
            }

            if (_sessions.IdleTimeout is null) return;
            var check = GetAsyncCallback(OnIdleTimer);
            _idleTimer = _sessions.Clock.CreateTimer(static state => PostCallback((Action)state!), check,
                Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        private void OnPush()
        {
            var item = Grab(_stage._in);
            if (item.Control is { } request)
            {
                if (_sessions.MustWait(request)) _held = item;
                else Control(item, request);
            }
            else
            {
                _sessions.Assign(item);
                Emit(item);
            }

            Progress();
        }

        private void OnUpstreamFinish()
        {
            _inputDone = true;
            Progress();
        }

        private void Control(StepBatch item, StateRequest request)
        {
            _sessions.Control(request);
            Emit(item);
        }

        /// <summary>Queues an item to go out with the changes made so far attached; an empty data batch with none is dropped.</summary>
        private void Emit(StepBatch item)
        {
            item.Transfer = _sessions.TakeTransfer();
            if (!item.IsControl && item.Count == 0 && item.Transfer is null)
            {
                item.Release();
                return;
            }

            _outbox.Enqueue(item);
        }

        /// <summary>Makes all the progress possible now: push, release held or waiting rows, load, pull or complete.</summary>
        private void Progress()
        {
            while (true)
            {
                if (_outbox.Count > 0)
                {
                    if (!IsAvailable(_stage._out)) break;
                    Push(_stage._out, _outbox.Dequeue());
                    continue;
                }

                if (_held is { Control: { } request } held && !_sessions.MustWait(request))
                {
                    _held = null;
                    Control(held, request);
                    continue;
                }

                if (_waitingMayGo && _sessions.Waiting is { Rows: > 0 })
                {
                    var batch = StepBatch.Rent(_maxRows, _inputSize);
                    _waitingMayGo = _sessions.AssignWaiting(batch) > 0;
                    if (_waitingMayGo) Emit(batch);
                    else batch.Release();
                    continue;
                }

                if (_sessions.HasTransfer)
                {
                    // Changes made while no item went out (idle eviction by the timer): an item of their own.
                    Emit(StepBatch.ForControl(StateRequest.TransferOnly()));
                    continue;
                }

                break;
            }

            StartLoads();
            if (_inputDone)
            {
                if (_held is null && _sessions.Waiting is not { Rows: > 0 } && _outbox.Count == 0) CompleteStage();
            }
            else if (_outbox.Count == 0 && _held is null && IsAvailable(_stage._out) && !HasBeenPulled(_stage._in)
                     && (_sessions.Waiting is null || _sessions.Waiting.FreeRows >= _maxRows))
            {
                Pull(_stage._in);
            }

            Publish();
        }

        private void StartLoads()
        {
            if (_sessions.Store is null) return;
            while (_sessions.TakeKeysToLoad() is { } keys) Load(keys, 0);
        }

        private void Load(string[] keys, int attempt)
        {
            if (_stopping.IsCancellationRequested) return;
            var started = _sessions.Clock.GetTimestamp();
            Task<IReadOnlyList<KeyState>> load;
            try
            {
                load = _sessions.Store!.LoadAsync(keys, _stopping.Token);
            }
            catch (Exception e)
            {
                load = Task.FromException<IReadOnlyList<KeyState>>(e);
            }

            var done = _loaded!;
            load.ContinueWith(static (task, state) =>
            {
                var (report, outcome) = ((Action<LoadOutcome>, LoadOutcome))state!;
                PostCallback(() => report(outcome with { Task = task }));
            }, (done, new LoadOutcome(keys, attempt, started, load)), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private void OnLoaded(LoadOutcome outcome)
        {
            var options = _stage._options;
            var task = outcome.Task;
            if (task.IsCompletedSuccessfully && task.Result is { } states)
            {
                _sessions.Loaded(outcome.Keys, states);
                options.OnRestoreLoaded?.Invoke(outcome.Keys.Length, states.Count, _sessions.Clock.GetElapsedTime(outcome.Started));
                _waitingMayGo = true;
            }
            else if (!_stopping.IsCancellationRequested)
            {
                var delay = RetryDelay(outcome.Attempt);
                _sessions.LoadFailed();
                var error = task.Exception?.GetBaseException()
                            ?? (Exception)new InvalidOperationException($"the session store's load of {outcome.Keys.Length} keys returned no list");
                options.OnRestoreFailed?.Invoke(outcome.Keys.Length, error, delay);
                var retry = _retry!;
                var next = (outcome.Keys, outcome.Attempt + 1);
                Task.Delay(delay, _sessions.Clock, _stopping.Token).ContinueWith(t =>
                {
                    if (!t.IsCanceled) PostCallback(() => retry(next));
                }, TaskScheduler.Default);
            }

            Progress();
        }

        private static TimeSpan RetryDelay(int attempt)
        {
            var ticks = FirstRetryDelay.Ticks << Math.Min(attempt, 16);
            return TimeSpan.FromTicks(Math.Min(ticks, MaxRetryDelay.Ticks));
        }

        /// <summary>
        /// Runs on a timer or task thread: hands work to the stage. An exception must not escape there (it would end
        /// the process); posting fails only when the stage has stopped, and then there is nothing left to do.
        /// </summary>
        private static void PostCallback(Action callback)
        {
            try
            {
                callback();
            }
            catch (Exception)
            {
                // The stage has stopped.
            }
        }

        private void OnIdleTimer()
        {
            _idleTimerArmed = false;
            _sessions.EvictIdle();
            Progress();
        }

        /// <summary>
        /// Makes sure, when keys are live, that the idle timer will look again, then publishes the figures: whoever
        /// sees these figures (a test moving a fake clock on, an operator) finds the timer already armed for the keys
        /// they count.
        /// </summary>
        private void Publish()
        {
            ArmIdleTimer();
            _counters.Publish(_sessions.Counts);
        }

        private void ArmIdleTimer()
        {
            if (_idleTimer is null || _idleTimerArmed || _sessions.NextExpiry is not { } expiry) return;
            // The oldest key's expiry only moves later (keys used again move to the recent end), so a timer
            // armed for an earlier expiry fires early at worst, checks, and is armed again.
            var clock = _sessions.Clock;
            var remaining = Math.Max(0, expiry - clock.GetTimestamp()) * ((double)TimeSpan.TicksPerSecond / clock.TimestampFrequency);
            var wait = remaining >= MaxTimerWait.Ticks ? MaxTimerWait : TimeSpan.FromTicks((long)remaining);
            wait += IdleCheckSlack(_sessions.IdleTimeout!.Value);
            _idleTimer.Change(wait, Timeout.InfiniteTimeSpan);
            _idleTimerArmed = true;
        }

        public override void PostStop()
        {
            _stopping.Cancel();
            _idleTimer?.Dispose();
            _idleTimer = null;
            _held?.Release();
            _held = null;
            while (_outbox.TryDequeue(out var item)) item.Release();
        }

        /// <summary>A load of stored state that has completed (or failed), with what it asked.</summary>
        private sealed record LoadOutcome(string[] Keys, int Attempt, long Started, Task<IReadOnlyList<KeyState>> Task);
    }
}
