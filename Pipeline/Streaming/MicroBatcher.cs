using Akka.Streams;
using Akka.Streams.Stage;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Re-packs incoming <see cref="StepBatch"/> fragments (any size, keys may repeat: parsed chunks of lines,
/// single records from a socket) into micro-batches of at most <see cref="MaxRows"/> rows in which every
/// key appears at most once. Rows keep their order. A batch is closed when it is full, when a row's key is
/// already in it (the batch goes first, the row opens the next one: per-key order is preserved), and at
/// upstream completion. Fragments are released once copied. Control batches pass through in order (the open
/// batch is emitted before them).
/// <para>
/// Batching is driven by demand: with <see cref="MaxDelay"/> zero (the default) a batch is whatever has arrived
/// when the next stage can take one. When the next stage pulls, the batcher first lets the input already queued
/// for it arrive (one round trip through its own mailbox, no timer) and then emits the open batch, however small:
/// a lone record on an idle pipeline goes straight through, while a busy pipeline (the next stage still stepping
/// the previous batch) fills batches up to <see cref="MaxRows"/>. A positive <see cref="MaxDelay"/> makes a
/// partial batch linger for more rows even when the next stage could take it, at most that long after its first
/// row (on Akka's scheduler, whose tick is 10 ms by default).
/// </para>
/// <para>
/// Memory is bounded: besides the fragment being copied it holds at most one open batch and one batch
/// waiting for demand; while both are taken, it stops copying and does not pull.
/// </para>
/// </summary>
internal sealed class MicroBatcher : GraphStage<FlowShape<StepBatch, StepBatch>>
{
    private readonly Inlet<StepBatch> _in = new("MicroBatcher.in");
    private readonly Outlet<StepBatch> _out = new("MicroBatcher.out");

    /// <param name="maxRows">Most rows per emitted batch.</param>
    /// <param name="maxDelay">How long a partial batch may wait for more rows while the next stage could take it,
    /// counted from its first row; zero: not at all (demand-driven).</param>
    /// <param name="rowWidth">Floats per row; every data fragment must have this width.</param>
    public MicroBatcher(int maxRows, TimeSpan maxDelay, int rowWidth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rowWidth);
        if (maxDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(maxDelay), maxDelay, "the batch delay must not be negative");
        MaxRows = maxRows;
        MaxDelay = maxDelay;
        RowWidth = rowWidth;
        Shape = new FlowShape<StepBatch, StepBatch>(_in, _out);
    }

    public int MaxRows { get; }
    public TimeSpan MaxDelay { get; }
    public int RowWidth { get; }

    public override FlowShape<StepBatch, StepBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("MicroBatcher");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : TimerGraphStageLogic
    {
        private const string FlushTimer = "flush";
        private readonly MicroBatcher _stage;
        private readonly HashSet<string> _openKeys;
        private StepBatch? _fragment;
        private int _next;
        private StepBatch? _open;
        private StepBatch? _pending;
        private bool _deadlinePassed;
        private bool _upstreamDone;
        private bool _flushRequested;
        private Action? _flush;

        public Logic(MicroBatcher stage) : base(stage.Shape)
        {
            _stage = stage;
            _openKeys = new HashSet<string>(stage.MaxRows, StringComparer.Ordinal);
            SetHandler(stage._in, onPush: OnPush, onUpstreamFinish: OnUpstreamFinish);
            SetHandler(stage._out, onPull: Drain);
        }

        private bool Lingers => _stage.MaxDelay > TimeSpan.Zero;

        public override void PreStart() => _flush = GetAsyncCallback(OnFlush);

        /// <summary>
        /// Back from the round trip through the mailbox: what was queued for the batcher when the next stage pulled
        /// has been copied, so the open batch goes out now (if the next stage still wants it).
        /// </summary>
        private void OnFlush()
        {
            _flushRequested = false;
            if (_pending is null && _open is not null && IsAvailable(_stage._out)) CloseOpen();
            Drain();
        }

        private void OnPush()
        {
            var fragment = Grab(_stage._in);
            if (!fragment.IsControl && fragment.Count > 0 && fragment.Width != _stage.RowWidth)
            {
                var message =
                    $"a fragment with rows of {fragment.Width} floats reached the batcher (first key '{fragment.Keys[0]}'), the model takes {_stage.RowWidth}";
                fragment.Release();
                throw new InvalidOperationException(message);
            }

            _fragment = fragment;
            _next = 0;
            Drain();
        }

        private void OnUpstreamFinish()
        {
            _upstreamDone = true;
            Drain();
        }

        protected override void OnTimer(object timerKey)
        {
            if (_open is null) return;
            _deadlinePassed = true;
            Drain();
        }

        /// <summary>Makes all the progress possible now: close, copy, push, pull or complete.</summary>
        private void Drain()
        {
            while (true)
            {
                if (_pending is null && (_deadlinePassed || _open is { IsFull: true })) CloseOpen();
                if (_fragment is not null) CopyFragment();
                if (_pending is null && _fragment is null && _upstreamDone) CloseOpen();
                if (_pending is not null && IsAvailable(_stage._out))
                {
                    Push(_stage._out, _pending);
                    _pending = null;
                    continue;
                }

                break;
            }

            // Demand-driven: the next stage could take the open batch. Emit it once the input already on its way
            // here has been copied (see OnFlush).
            if (!Lingers && !_flushRequested && _pending is null && _open is not null && IsAvailable(_stage._out))
            {
                _flushRequested = true;
                _flush!();
            }

            if (_fragment is not null) return;
            if (_upstreamDone)
            {
                if (_pending is null && _open is null) CompleteStage();
            }
            else if (!HasBeenPulled(_stage._in))
            {
                Pull(_stage._in);
            }
        }

        /// <summary>Copies rows of the current fragment until it is used up or no batch can be closed.</summary>
        private void CopyFragment()
        {
            var f = _fragment!;
            if (f.IsControl)
            {
                if (_open is not null)
                {
                    if (_pending is not null) return;
                    CloseOpen();
                }

                if (_pending is not null) return;
                _pending = f;
                _fragment = null;
                return;
            }

            var width = _stage.RowWidth;
            while (_next < f.Count)
            {
                if (_open is { IsFull: true })
                {
                    if (_pending is not null) return;
                    CloseOpen();
                }

                var key = f.Keys[_next];
                if (_open is null) Open();
                if (!_openKeys.Add(key))
                {
                    if (_pending is not null) return;
                    CloseOpen();
                    Open();
                    _openKeys.Add(key);
                }

                var open = _open!;
                var r = open.Add(key, f.Seq[_next], f.Flags[_next], f.Tags[_next]);
                f.Data.AsSpan(_next * width, width).CopyTo(open.Data.AsSpan(r * width, width));
                _next++;
            }

            if (_open is { IsFull: true } && _pending is null) CloseOpen();
            f.Release();
            _fragment = null;
        }

        private void Open()
        {
            _open = StepBatch.Rent(_stage.MaxRows, _stage.RowWidth);
            if (Lingers) ScheduleOnce(FlushTimer, _stage.MaxDelay);
        }

        /// <summary>Moves the open batch (if any) to the pending slot, which must be free.</summary>
        private void CloseOpen()
        {
            _deadlinePassed = false;
            if (_open is null) return;
            if (Lingers) CancelTimer(FlushTimer);
            _pending = _open;
            _open = null;
            _openKeys.Clear();
        }

        public override void PostStop()
        {
            _fragment?.Release();
            _open?.Release();
            _pending?.Release();
            _fragment = _open = _pending = null;
        }
    }
}
