namespace LstmStream.Pipeline.Flows;

/// <summary>
/// Running totals of one materialized <see cref="LstmFlow"/>, written by the flow's stage and readable from any
/// thread: steps taken in, steps rejected, outputs and duplicates emitted.
/// </summary>
public sealed class LstmStepCounters
{
    private long _received;
    private long _rejected;
    private long _outputs;
    private long _duplicates;

    /// <summary>Steps the flow took in (valid and rejected).</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Steps rejected as invalid (each emitted as an <see cref="LstmStepRejected"/>).</summary>
    public long Rejected => Volatile.Read(ref _rejected);

    /// <summary><see cref="LstmOutput"/>s emitted.</summary>
    public long Outputs => Volatile.Read(ref _outputs);

    /// <summary><see cref="LstmDuplicate"/>s emitted (steps not applied: their <c>seq</c> was already covered).</summary>
    public long Duplicates => Volatile.Read(ref _duplicates);

    internal void CountDuplicate() => Volatile.Write(ref _duplicates, _duplicates + 1);

    internal void CountReceived() => Volatile.Write(ref _received, _received + 1);

    internal void CountReceived(int steps) => Volatile.Write(ref _received, _received + steps);

    internal void CountRejected() => Volatile.Write(ref _rejected, _rejected + 1);

    internal void CountOutput() => Volatile.Write(ref _outputs, _outputs + 1);

    internal void CountOutputs(int outputs, int duplicates)
    {
        if (outputs != 0) Volatile.Write(ref _outputs, _outputs + outputs);
        if (duplicates != 0) Volatile.Write(ref _duplicates, _duplicates + duplicates);
    }
}
