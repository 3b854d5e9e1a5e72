namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The bytes of one connection that are due but not yet written (a socket that was full takes them on a later
/// tick): appended at the end, consumed from the front, growing when a slow server leaves more behind.
/// </summary>
internal sealed class SendBacklog
{
    private byte[] _buffer = new byte[1 << 16];
    private int _start;
    private int _end;

    public int Count => _end - _start;

    public ReadOnlySpan<byte> Pending => _buffer.AsSpan(_start, Count);

    /// <summary>Room for at least <paramref name="bytes"/> more at the end; <see cref="Appended"/> says how many were written.</summary>
    public Span<byte> Room(int bytes)
    {
        if (_buffer.Length - _end < bytes)
        {
            var needed = Count + bytes;
            var target = needed <= _buffer.Length / 2 ? _buffer : new byte[Math.Max(_buffer.Length * 2, needed)];
            Pending.CopyTo(target);
            _buffer = target;
            _end = Count;
            _start = 0;
        }

        return _buffer.AsSpan(_end);
    }

    public void Appended(int bytes) => _end += bytes;

    public void Consumed(int bytes)
    {
        _start += bytes;
        if (_start == _end) _start = _end = 0;
    }
}
