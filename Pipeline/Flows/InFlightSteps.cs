using System.Buffers;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// The steps <see cref="LstmStepCodec"/> has sent into the pipeline whose outputs have not come back, by fragment:
/// each fragment has a number, each of its rows the tag <c>number &lt;&lt; 32 | row</c>, and the key of each row
/// still in flight is kept (one reference per row, in an array rented per fragment), so that the rare rejected step
/// can find the last step of its key still in flight (a scan, newest first) while a step and its output cost two
/// array writes and no hashing. Fragments are numbered from 1; a fragment's array goes back to the pool once all its
/// rows are out.
/// </summary>
internal sealed class InFlightSteps
{
    private readonly int _rowsPerFragment;
    private string?[]?[] _keys = new string?[]?[8];
    private int[] _remaining = new int[8];
    private int[] _rows = new int[8];
    private long _oldest = 1;
    private long _next = 1;

    /// <param name="rowsPerFragment">Most rows of a fragment (at most 2^31 - 1).</param>
    public InFlightSteps(int rowsPerFragment) => _rowsPerFragment = rowsPerFragment;

    /// <summary>Rows added and not yet completed, over every fragment.</summary>
    public long Count { get; private set; }

    /// <summary>Starts the next fragment (its rows are added with <see cref="Add"/>).</summary>
    public void StartFragment()
    {
        if (_next - _oldest == _keys.Length) Grow();
        var i = Index(_next++);
        _keys[i] = ArrayPool<string?>.Shared.Rent(_rowsPerFragment);
        _remaining[i] = 0;
        _rows[i] = 0;
    }

    /// <summary>Adds a row of <paramref name="key"/> to the newest fragment and returns its tag.</summary>
    public long Add(string key)
    {
        var number = _next - 1;
        var i = Index(number);
        var row = _rows[i]++;
        _keys[i]![row] = key;
        _remaining[i]++;
        Count++;
        return number << 32 | (uint)row;
    }

    /// <summary>The output of the row tagged <paramref name="tag"/> came back.</summary>
    public void Complete(long tag)
    {
        var i = Index(tag >> 32);
        _keys[i]![(int)tag] = null;
        _remaining[i]--;
        Count--;
        ReleaseEmptyFragments();
    }

    /// <summary>
    /// The outputs of the rows tagged <paramref name="tags"/> came back: each run of consecutive rows of one fragment
    /// (a micro-batch of whole rounds is one) completed at once.
    /// </summary>
    public void Complete(ReadOnlySpan<long> tags)
    {
        for (var start = 0; start < tags.Length;)
        {
            var first = tags[start];
            var run = 1;
            while (start + run < tags.Length && tags[start + run] == first + run) run++;
            var i = Index(first >> 32);
            _keys[i].AsSpan((int)first, run).Clear();
            _remaining[i] -= run;
            Count -= run;
            start += run;
        }

        ReleaseEmptyFragments();
    }

    /// <summary>Returns the arrays of the oldest fragments whose rows are all out (the newest may still take rows).</summary>
    private void ReleaseEmptyFragments()
    {
        while (_oldest < _next - 1 && _remaining[Index(_oldest)] == 0)
        {
            var o = Index(_oldest++);
            ArrayPool<string?>.Shared.Return(_keys[o]!);
            _keys[o] = null;
        }
    }

    /// <summary>The tag of the last row of <paramref name="key"/> still in flight, or null when it has none.</summary>
    public long? LastOf(string key)
    {
        if (Count == 0) return null;
        for (var number = _next - 1; number >= _oldest; number--)
        {
            var i = Index(number);
            var keys = _keys[i]!;
            if (_remaining[i] == 0) continue;
            for (var row = _rows[i] - 1; row >= 0; row--)
            {
                if (keys[row] is { } k && string.Equals(k, key, StringComparison.Ordinal)) return number << 32 | (uint)row;
            }
        }

        return null;
    }

    private int Index(long number) => (int)(number & (_keys.Length - 1));

    private void Grow()
    {
        var keys = new string?[]?[_keys.Length * 2];
        var remaining = new int[keys.Length];
        var rows = new int[keys.Length];
        for (var n = _oldest; n < _next; n++)
        {
            int from = Index(n), to = (int)(n & (keys.Length - 1));
            keys[to] = _keys[from];
            remaining[to] = _remaining[from];
            rows[to] = _rows[from];
        }

        _keys = keys;
        _remaining = remaining;
        _rows = rows;
    }
}
