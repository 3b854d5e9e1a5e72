namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Live figures of a pipeline's session stage, written by the stage and readable from any thread
/// (metrics, admin queries). Values are current as of the last batch the stage processed.
/// </summary>
public sealed class SessionCounters
{
    private int _liveKeys;
    private long _keysCreated;
    private long _keysEnded;
    private long _batches;

    /// <summary>Keys that currently hold state.</summary>
    public int LiveKeys => Volatile.Read(ref _liveKeys);

    /// <summary>Keys whose state was created (first step, or first step after an end).</summary>
    public long KeysCreated => Volatile.Read(ref _keysCreated);

    /// <summary>Keys dropped by an <c>end</c> step or an export with removal.</summary>
    public long KeysEnded => Volatile.Read(ref _keysEnded);

    /// <summary>Data batches processed.</summary>
    public long Batches => Volatile.Read(ref _batches);

    internal void Publish(int liveKeys, long created, long ended, long batches)
    {
        Volatile.Write(ref _liveKeys, liveKeys);
        Volatile.Write(ref _keysCreated, created);
        Volatile.Write(ref _keysEnded, ended);
        Volatile.Write(ref _batches, batches);
    }
}
