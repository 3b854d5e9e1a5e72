namespace LstmStream.Benchmarks;

/// <summary>
/// Seeded model inputs for every live key: <see cref="Count"/> distinct rounds of <c>[keys × InputSize]</c>
/// values in [-1, 1], used cyclically (round r uses <c>Round(r % Count)</c>), so every engine sees exactly
/// the same inputs and nothing is generated while timing.
/// </summary>
internal sealed class InputRounds
{
    public const int Count = 8;
    private readonly float[][] _rounds;

    public InputRounds(int keys, int inputSize, int seed = 4242)
    {
        Keys = keys;
        InputSize = inputSize;
        var random = new Random(seed);
        _rounds = new float[Count][];
        for (var r = 0; r < Count; r++)
        {
            var values = new float[keys * inputSize];
            for (var i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            _rounds[r] = values;
        }
    }

    public int Keys { get; }

    public int InputSize { get; }

    /// <summary>All keys' inputs of round <paramref name="round"/>, <c>[keys × InputSize]</c>.</summary>
    public ReadOnlySpan<float> Round(long round) => _rounds[(int)(round % Count)];

    /// <summary>The input of <paramref name="key"/> at its step <paramref name="step"/>.</summary>
    public ReadOnlySpan<float> Row(long step, int key) => RowMemory(step, key).Span;

    /// <summary><see cref="Row"/> as memory (what a typed step carries).</summary>
    public ReadOnlyMemory<float> RowMemory(long step, int key) => _rounds[(int)(step % Count)].AsMemory(key * InputSize, InputSize);
}
