namespace LstmStream.Actors.Persistence;

/// <summary>
/// The buffers <see cref="BucketSnapshotStore"/> serializes bucket snapshots into before sending them: reused while
/// writes are under way (a checkpoint keeps up to <see cref="CheckpointCoordinatorActor.WritesInFlight"/> at once), and
/// none kept once no write is (between checkpoints the store holds no serialization buffer; the next checkpoint allocates
/// its first ones again, a few arrays against the hundreds of MB of exported rows a checkpoint allocates).
/// <para>
/// Why not <c>ArrayPool&lt;byte&gt;.Shared</c>: it keeps returned arrays per thread and per core until memory pressure
/// trims them, so after a checkpoint the process held several of them (~128 KB a bucket at 10,000 sensor keys, ~1 MB at
/// 100,000), about 1 MB of idle memory that served nothing until the next checkpoint: at 10,000 keys ~100 B a live key,
/// against a target of 1.3 × the raw state + 100 B. Thread-safe: writes return their buffers from whatever thread
/// completes them.
/// </para>
/// </summary>
public sealed class SnapshotBufferPool
{
    /// <summary>The smallest buffer handed out; sizes are rounded up to a power of two from here, so a bucket a little larger than the last still fits.</summary>
    public const int MinimumLength = 4096;

    private readonly Lock _gate = new();
    private readonly List<byte[]> _free = [];
    private readonly int _maxKeptWhileBusy;
    private int _rented;
    private long _allocated;

    /// <param name="maxKeptWhileBusy">Buffers kept for reuse while any is rented (at least 1).</param>
    public SnapshotBufferPool(int maxKeptWhileBusy)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeptWhileBusy, 1);
        _maxKeptWhileBusy = maxKeptWhileBusy;
    }

    /// <summary>Buffers kept for reuse now (not rented).</summary>
    public int Kept
    {
        get
        {
            lock (_gate) return _free.Count;
        }
    }

    /// <summary>Bytes of the buffers kept for reuse now.</summary>
    public long KeptBytes
    {
        get
        {
            lock (_gate)
            {
                long bytes = 0;
                foreach (var buffer in _free) bytes += buffer.Length;
                return bytes;
            }
        }
    }

    /// <summary>Buffers allocated since the pool was made (a rent no kept buffer could serve).</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    /// <summary>A buffer of at least <paramref name="size"/> bytes; give it back with <see cref="Return"/> once its bytes are sent.</summary>
    public byte[] Rent(int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        lock (_gate)
        {
            _rented++;
            var best = -1;
            for (var i = 0; i < _free.Count; i++)
            {
                if (_free[i].Length >= size && (best < 0 || _free[i].Length < _free[best].Length)) best = i;
            }

            if (best >= 0)
            {
                var buffer = _free[best];
                _free.RemoveAt(best);
                return buffer;
            }
        }

        Interlocked.Increment(ref _allocated);
        return new byte[RoundedLength(size)];
    }

    /// <summary>Takes back a buffer from <see cref="Rent"/>. Once nothing is rented, no buffer is kept.</summary>
    public void Return(byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        lock (_gate)
        {
            if (_rented == 0) throw new InvalidOperationException("a buffer was returned that was not rented");
            _rented--;
            _free.Add(buffer);
            var keep = _rented == 0 ? 0 : _maxKeptWhileBusy;
            while (_free.Count > keep) _free.RemoveAt(Smallest());
        }
    }

    private int Smallest()
    {
        var smallest = 0;
        for (var i = 1; i < _free.Count; i++)
        {
            if (_free[i].Length < _free[smallest].Length) smallest = i;
        }

        return smallest;
    }

    private static int RoundedLength(int size)
    {
        if (size <= MinimumLength) return MinimumLength;
        var rounded = (int)Math.Min(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)size), (uint)Array.MaxLength);
        return Math.Max(rounded, size);
    }
}
