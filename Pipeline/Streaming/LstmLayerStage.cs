using System.Buffers;
using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// One stacked LSTM layer over keyed micro-batches. Owns the layer's <see cref="StateArena"/>; per batch it
/// zeroes the state of <see cref="StepFlags.Reset"/> rows, steps the whole batch with one
/// <see cref="LstmLayerKernel.StepInPlace"/> (one matrix multiply) that reads each row's h_prev and c_prev from
/// the arena by slot and writes the new state back there, and forwards h as the batch's data (a new pooled
/// buffer). A <see cref="StepFlags.Duplicate"/> row is stepped with the others but its key's rows are put back
/// afterwards (no state change). Control batches: an export or checkpoint copies this layer's rows of the named
/// keys out, an import writes them in, a reset zeroes them. A <see cref="SessionTransfer"/> riding on any item is
/// handled first: evicted keys' rows copied out, restored keys' rows written in.
/// The stage holds only the layer's packed weights (shared by every materialization); each materialization's logic
/// creates its own arena and its own <see cref="LstmLayerKernel"/> (scratch space, the fused step's operands).
/// </summary>
internal sealed class LstmLayerStage : GraphStage<FlowShape<StepBatch, StepBatch>>
{
    private readonly Inlet<StepBatch> _in;
    private readonly Outlet<StepBatch> _out;

    /// <param name="weights">The layer's weights packed by its backend (immutable, shared by every materialization).</param>
    /// <param name="layerIndex">The layer's position in the model (state export/import and messages).</param>
    /// <param name="maxSlots">Most state slots the session stage hands out (<see cref="PipelineOptions.MaxLiveKeys"/>):
    /// the arena never grows past it. Null: unbounded.</param>
    public LstmLayerStage(PackedLstmLayer weights, int layerIndex, int? maxSlots = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfNegative(layerIndex);
        if (maxSlots is { } max) ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max, nameof(maxSlots));
        Weights = weights;
        LayerIndex = layerIndex;
        MaxSlots = maxSlots;
        _in = new Inlet<StepBatch>($"LstmLayer{layerIndex}.in");
        _out = new Outlet<StepBatch>($"LstmLayer{layerIndex}.out");
        Shape = new FlowShape<StepBatch, StepBatch>(_in, _out);
    }

    public PackedLstmLayer Weights { get; }
    public int LayerIndex { get; }
    public int? MaxSlots { get; }

    public override FlowShape<StepBatch, StepBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName($"LstmLayer{LayerIndex}");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic
    {
        private readonly LstmLayerStage _stage;
        private readonly LstmLayerKernel _kernel;
        private readonly StateArena _arena;
        private float[] _kept = [];

        public Logic(LstmLayerStage stage) : base(stage.Shape)
        {
            _stage = stage;
            _kernel = new LstmLayerKernel(stage.Weights);
            var layer = stage.Weights.Layer;
            _arena = new StateArena(layer.CellSize, layer.OutputSize, maxRows: stage.MaxSlots ?? int.MaxValue);
            SetHandler(stage._in, onPush: OnPush);
            SetHandler(stage._out, onPull: () => Pull(stage._in));
        }

        private void OnPush()
        {
            var batch = Grab(_stage._in);
            if (batch.Transfer is { } transfer) Move(transfer);
            if (batch.Control is { } request) Control(request);
            else Step(batch);
            Push(_stage._out, batch);
        }

        private void Step(StepBatch batch)
        {
            var layer = _stage.Weights.Layer;
            int rows = batch.Count, inputs = layer.InputSize, outs = layer.OutputSize;
            if (rows == 0) return;
            if (batch.Width != inputs)
            {
                var message = $"layer {_stage.LayerIndex} takes rows of {inputs} floats, the batch has {batch.Width} (first key '{batch.Keys[0]}')";
                batch.Release();
                throw new InvalidOperationException(message);
            }

            var slots = batch.Slots;
            var flags = batch.Flags;
            var duplicates = 0;
            for (var r = 0; r < rows; r++)
            {
                var slot = slots[r];
                if (slot < 0)
                {
                    var message = $"row {r} (key '{batch.Keys[r]}') reached layer {_stage.LayerIndex} without a state slot";
                    batch.Release();
                    throw new InvalidOperationException(message);
                }

                if (slot >= _arena.Rows) _arena.EnsureRows(slot + 1);
                if ((flags[r] & StepFlags.Reset) != 0)
                {
                    _arena.H(slot).Clear();
                    _arena.C(slot).Clear();
                }

                if ((flags[r] & StepFlags.Duplicate) != 0) Keep(slot, duplicates++);
            }

            // The state is read and written in place in the arena, by slot (a key is in a batch at most once).
            var h = ArrayPool<float>.Shared.Rent(rows * outs);
            _kernel.StepInPlace(rows, batch.Data.AsSpan(0, rows * inputs), _arena.AllH, _arena.AllC, slots.AsSpan(0, rows), h);
            if (duplicates > 0) PutBack(batch, duplicates);

            batch.ReplaceData(h, outs);
        }

        /// <summary>
        /// A duplicate row is stepped with the batch (one multiply for all rows) but must leave its key's state as it
        /// was: its c and h rows are kept here before the step and put back after it.
        /// </summary>
        private void Keep(int slot, int index)
        {
            int cell = _arena.CellSize, outs = _arena.OutputSize, size = cell + outs;
            if (_kept.Length < (index + 1) * size) Array.Resize(ref _kept, Math.Max((index + 1) * size, _kept.Length * 2));
            _arena.C(slot).CopyTo(_kept.AsSpan(index * size, cell));
            _arena.H(slot).CopyTo(_kept.AsSpan(index * size + cell, outs));
        }

        private void PutBack(StepBatch batch, int duplicates)
        {
            int cell = _arena.CellSize, outs = _arena.OutputSize, size = cell + outs, index = 0;
            for (var r = 0; r < batch.Count && index < duplicates; r++)
            {
                if ((batch.Flags[r] & StepFlags.Duplicate) == 0) continue;
                var slot = batch.Slots[r];
                _kept.AsSpan(index * size, cell).CopyTo(_arena.C(slot));
                _kept.AsSpan(index * size + cell, outs).CopyTo(_arena.H(slot));
                index++;
            }
        }

        /// <summary>
        /// Keys' state moving with this item: the evicted keys' rows are copied out (before their slots are used
        /// again), then the restored keys' rows are written in (before they are stepped).
        /// </summary>
        private void Move(SessionTransfer transfer)
        {
            var k = _stage.LayerIndex;
            foreach (var (slot, state) in transfer.Evicted)
            {
                if (slot >= _arena.Rows) _arena.EnsureRows(slot + 1);
                state.C[k] = _arena.C(slot).ToArray();
                state.H[k] = _arena.H(slot).ToArray();
            }

            foreach (var (slot, state) in transfer.Restored)
            {
                if (slot >= _arena.Rows) _arena.EnsureRows(slot + 1);
                state.C[k].CopyTo(_arena.C(slot));
                state.H[k].CopyTo(_arena.H(slot));
            }
        }

        private void Control(StateRequest request)
        {
            if (request.Error is not null) return;
            var k = _stage.LayerIndex;
            var layer = _stage.Weights.Layer;
            var slots = request.Slots;
            if (request.Kind == StateRequestKind.Reset)
            {
                foreach (var slot in slots)
                {
                    if (slot < 0) continue;
                    if (slot >= _arena.Rows) _arena.EnsureRows(slot + 1);
                    _arena.C(slot).Clear();
                    _arena.H(slot).Clear();
                }

                return;
            }

            if (request.Exports)
            {
                for (var i = 0; i < slots.Length; i++)
                {
                    var slot = slots[i];
                    if (slot < 0) continue;
                    var state = request.States[i];
                    // A live key whose slot this layer has not stored yet cannot exist: slots are handed out
                    // by steps that pass every layer. Guard anyway instead of reading past the arena.
                    if (slot >= _arena.Rows)
                    {
                        request.Error = $"key '{state.Key}': slot {slot} is outside layer {k}'s state arena ({_arena.Rows} rows)";
                        return;
                    }

                    state.C[k] = _arena.C(slot).ToArray();
                    state.H[k] = _arena.H(slot).ToArray();
                }

                return;
            }

            if (request.Kind != StateRequestKind.Import) return; // drop and counts: nothing in the arena

            for (var i = 0; i < slots.Length; i++)
            {
                var state = request.States[i];
                if (state.C[k].Length != layer.CellSize || state.H[k].Length != layer.OutputSize)
                {
                    request.Error = $"state of key '{state.Key}' does not fit layer {k}: C has {state.C[k].Length} values (expected {layer.CellSize}), H has {state.H[k].Length} (expected {layer.OutputSize})";
                    return;
                }
            }

            for (var i = 0; i < slots.Length; i++)
            {
                var slot = slots[i];
                if (slot >= _arena.Rows) _arena.EnsureRows(slot + 1);
                request.States[i].C[k].CopyTo(_arena.C(slot));
                request.States[i].H[k].CopyTo(_arena.H(slot));
            }
        }
    }
}
