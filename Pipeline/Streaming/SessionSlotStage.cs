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
/// </summary>
internal sealed class SessionSlotStage : GraphStageWithMaterializedValue<FlowShape<StepBatch, StepBatch>, SessionCounters>
{
    /// <summary>Longest single wait of the idle timer (a timer re-armed after it simply checks again).</summary>
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromHours(1);

    private readonly Inlet<StepBatch> _in = new("SessionSlot.in");
    private readonly Outlet<StepBatch> _out = new("SessionSlot.out");
    private readonly PipelineOptions _options;

    /// <summary>A session stage whose keys never expire and are not bounded.</summary>
    public SessionSlotStage() : this(new PipelineOptions())
    {
    }

    /// <param name="options">Idle timeout, live-key bound, clock and eviction observer (validated here).</param>
    public SessionSlotStage(PipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
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
        private ITimer? _idleTimer;
        private bool _idleTimerArmed;

        public Logic(SessionSlotStage stage, SessionCounters counters) : base(stage.Shape)
        {
            _stage = stage;
            _counters = counters;
            _sessions = new SessionLifecycle(stage._options);
            SetHandler(stage._in, onPush: OnPush);
            SetHandler(stage._out, onPull: () => Pull(stage._in));
        }

        public override void PreStart()
        {
            if (_sessions.IdleTimeout is null) return;
            var check = GetAsyncCallback(OnIdleTimer);
            _idleTimer = _sessions.Clock.CreateTimer(static state => PostIdleCheck((Action)state!), check,
                Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        private void OnPush()
        {
            var batch = Grab(_stage._in);
            if (batch.Control is { } request) _sessions.Control(request);
            else _sessions.Assign(batch);
            Publish();
            Push(_stage._out, batch);
        }

        /// <summary>
        /// Runs on the clock's timer thread: asks the stage to check its idle keys. An exception must not escape
        /// there (it would end the process); posting fails only when the stage has stopped, and then there is
        /// nothing left to check.
        /// </summary>
        private static void PostIdleCheck(Action check)
        {
            try
            {
                check();
            }
            catch (Exception)
            {
                // The stage has stopped (its timer is being disposed).
            }
        }

        private void OnIdleTimer()
        {
            _idleTimerArmed = false;
            _sessions.EvictIdle();
            Publish();
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
            _idleTimer?.Dispose();
            _idleTimer = null;
        }
    }
}
