namespace LstmStream.Benchmarks;

/// <summary>
/// Collects a checked run's outputs: each key's outputs must come in seq order 0, 1, …; the last round's outputs are
/// kept by key index, <c>[keys × outputSize]</c>, for comparison with the reference.
/// </summary>
internal sealed class LastRoundOutputs
{
    private readonly string[] _keyNames;
    private readonly Dictionary<string, int> _keyIndex;
    private readonly long[] _seen;
    private readonly float[] _last;
    private readonly int _outputSize;
    private readonly int _rounds;

    public LastRoundOutputs(string[] keyNames, int outputSize, int rounds)
    {
        _keyNames = keyNames;
        _keyIndex = keyNames.Select((k, i) => (k, i)).ToDictionary(p => p.k, p => p.i, StringComparer.Ordinal);
        _seen = new long[keyNames.Length];
        _last = new float[keyNames.Length * outputSize];
        _outputSize = outputSize;
        _rounds = rounds;
    }

    /// <summary>One output; throws when it is out of its key's order.</summary>
    public void Add(string keyName, long seq, ReadOnlySpan<float> y)
    {
        var key = _keyIndex[keyName];
        if (seq != _seen[key]) throw new InvalidOperationException($"key '{keyName}' output seq {seq} arrived where {_seen[key]} was due");
        _seen[key]++;
        if (seq == _rounds - 1) y.CopyTo(_last.AsSpan(key * _outputSize, _outputSize));
    }

    /// <summary>The last round's outputs; throws unless every key gave every round's output.</summary>
    public float[] Result()
    {
        for (var k = 0; k < _seen.Length; k++)
        {
            if (_seen[k] != _rounds) throw new InvalidOperationException($"key '{_keyNames[k]}' produced {_seen[k]} outputs, {_rounds} expected");
        }

        return _last;
    }
}
