using LstmStream.Actors.Cluster;

namespace LstmStream.Hosting.Service;

/// <summary>
/// Which of a bucket's waiting rows go into its next envelope (<see cref="BucketRouter"/>): the <b>oldest row of each
/// key</b>, in order, as long as they fit <see cref="RoutedMessageSize.MaxRoutedBytes"/> (at least one row); every other
/// row stays, in order, for a later envelope.
/// <para>
/// Why one row per key: the owner's micro-batcher closes a batch at the first key already in it (per-key order), so an
/// envelope holding a bucket's few keys many times over (all that waited during one round trip) would be stepped in
/// batches of about the keys of one bucket (4 rows at 1024 keys in 256 buckets). Envelopes of distinct keys from many
/// buckets join into one batch, one matrix multiply for them all. Per-key order holds: a row goes only after every
/// earlier row of its key has gone.
/// </para>
/// Not thread-safe: used under the router's lock.
/// </summary>
internal sealed class EnvelopeRows
{
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private int[] _taken = new int[64];
    private int[] _left = new int[64];
    private int _takenCount;
    private int _leftCount;

    /// <summary>The rows of the envelope (indexes into the keys given to <see cref="Choose"/>), in order.</summary>
    public ReadOnlySpan<int> Taken => _taken.AsSpan(0, _takenCount);

    /// <summary>The rows that wait for a later envelope, in order.</summary>
    public ReadOnlySpan<int> Left => _left.AsSpan(0, _leftCount);

    /// <summary>Splits <paramref name="rows"/> (indexes into <paramref name="keys"/>, in arrival order) into <see cref="Taken"/> and <see cref="Left"/>.</summary>
    public void Choose(ReadOnlySpan<string> keys, ReadOnlySpan<int> rows, int width)
    {
        if (_taken.Length < rows.Length)
        {
            _taken = new int[Math.Max(rows.Length, _taken.Length * 2)];
            _left = new int[_taken.Length];
        }

        _seen.Clear();
        _takenCount = 0;
        _leftCount = 0;
        long bytes = RoutedMessageSize.HeaderBytes;
        var full = false;
        foreach (var r in rows)
        {
            var key = keys[r];
            if (_seen.Add(key) && !full)
            {
                var rowBytes = RoutedMessageSize.RowBytesBound(key, width);
                if (_takenCount == 0 || bytes + rowBytes <= RoutedMessageSize.MaxRoutedBytes)
                {
                    bytes += rowBytes;
                    _taken[_takenCount++] = r;
                    continue;
                }

                // Full: every later row waits for a later envelope.
                full = true;
            }

            _left[_leftCount++] = r;
        }
    }
}
