using Akka.Streams;
using Akka.Streams.Stage;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Gives every row its key's state slot (<see cref="StepBatch.Slots"/>) through a <see cref="SlotTable"/>.
/// A key's first step (new slot) gets <see cref="StepFlags.Reset"/>, so the layers start it from zero state;
/// an <see cref="StepFlags.End"/> step frees the key's slot after the batch, so a slot is never used twice
/// in one batch. A key twice in one batch is an error (the batcher rules it out). Control batches get the
/// slots of the keys they name. The materialized <see cref="SessionCounters"/> shows the live key count.
/// </summary>
public sealed class SessionSlotStage : GraphStageWithMaterializedValue<FlowShape<StepBatch, StepBatch>, SessionCounters>
{
    private readonly Inlet<StepBatch> _in = new("SessionSlot.in");
    private readonly Outlet<StepBatch> _out = new("SessionSlot.out");

    public SessionSlotStage() => Shape = new FlowShape<StepBatch, StepBatch>(_in, _out);

    public override FlowShape<StepBatch, StepBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("SessionSlot");

    public override ILogicAndMaterializedValue<SessionCounters> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var counters = new SessionCounters();
        return new LogicAndMaterializedValue<SessionCounters>(new Logic(this, counters), counters);
    }

    private sealed class Logic : GraphStageLogic
    {
        private readonly SessionSlotStage _stage;
        private readonly SessionCounters _counters;
        private readonly SlotTable _table = new();
        private int[] _ended = new int[64];
        private long _tick;
        private long _created;
        private long _endedTotal;
        private long _batches;

        public Logic(SessionSlotStage stage, SessionCounters counters) : base(stage.Shape)
        {
            _stage = stage;
            _counters = counters;
            SetHandler(stage._in, onPush: OnPush);
            SetHandler(stage._out, onPull: () => Pull(stage._in));
        }

        private void OnPush()
        {
            var batch = Grab(_stage._in);
            _tick++;
            if (batch.Control is { } request) Control(request);
            else Assign(batch);
            _counters.Publish(_table.Count, _created, _endedTotal, _batches);
            Push(_stage._out, batch);
        }

        private void Assign(StepBatch batch)
        {
            _batches++;
            int rows = batch.Count, ended = 0;
            if (_ended.Length < rows) _ended = new int[Math.Max(rows, _ended.Length * 2)];
            var keys = batch.Keys;
            var flags = batch.Flags;
            var slots = batch.Slots;
            for (var r = 0; r < rows; r++)
            {
                var slot = _table.Acquire(keys[r], _tick, out var created);
                if (slot < 0)
                {
                    var message = $"key '{keys[r]}' appears twice in one batch (row {r}); batches must hold distinct keys";
                    batch.Release();
                    throw new InvalidOperationException(message);
                }

                if (created)
                {
                    flags[r] |= StepFlags.Reset;
                    _created++;
                }

                slots[r] = slot;
                if ((flags[r] & StepFlags.End) != 0) _ended[ended++] = slot;
            }

            for (var i = 0; i < ended; i++) _table.Release(_ended[i]);
            _endedTotal += ended;
        }

        private void Control(StateRequest request)
        {
            if (request.Error is not null) return;
            var keys = request.Keys;
            if (request.Kind == StateRequestKind.Import)
            {
                for (var i = 0; i < keys.Length; i++)
                {
                    request.Slots[i] = _table.Acquire(keys[i], _tick, out var created);
                    if (created) _created++;
                }

                return;
            }

            for (var i = 0; i < keys.Length; i++) request.Slots[i] = _table.Find(keys[i]);
            if (!request.Remove) return;
            foreach (var slot in request.Slots)
            {
                if (slot < 0) continue;
                _table.Release(slot);
                _endedTotal++;
            }
        }
    }
}
