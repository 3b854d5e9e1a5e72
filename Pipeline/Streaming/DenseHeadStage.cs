using System.Buffers;
using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// The model's dense head over micro-batches: replaces each batch's data (top-layer h rows) with the head's
/// output rows, one matrix multiply per batch. Stateless (the kernel is immutable, shared by every materialization);
/// control batches pass through.
/// </summary>
internal sealed class DenseHeadStage : GraphStage<FlowShape<StepBatch, StepBatch>>
{
    private readonly Inlet<StepBatch> _in = new("DenseHead.in");
    private readonly Outlet<StepBatch> _out = new("DenseHead.out");

    /// <param name="kernel">The head's packed weights on its backend.</param>
    public DenseHeadStage(DenseHeadKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        Kernel = kernel;
        Shape = new FlowShape<StepBatch, StepBatch>(_in, _out);
    }

    public DenseHeadKernel Kernel { get; }

    public override FlowShape<StepBatch, StepBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("DenseHead");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic
    {
        private readonly DenseHeadStage _stage;

        public Logic(DenseHeadStage stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._in, onPush: OnPush);
            SetHandler(stage._out, onPull: () => Pull(stage._in));
        }

        private void OnPush()
        {
            var batch = Grab(_stage._in);
            var head = _stage.Kernel.Head;
            if (!batch.IsControl && batch.Count > 0)
            {
                if (batch.Width != head.InputSize)
                {
                    var message = $"the head takes rows of {head.InputSize} floats, the batch has {batch.Width} (first key '{batch.Keys[0]}')";
                    batch.Release();
                    throw new InvalidOperationException(message);
                }

                var y = ArrayPool<float>.Shared.Rent(batch.Count * head.OutputSize);
                _stage.Kernel.Apply(batch.Count, batch.Rows, y);
                batch.ReplaceData(y, head.OutputSize);
            }

            Push(_stage._out, batch);
        }
    }
}
