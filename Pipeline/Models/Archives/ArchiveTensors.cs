using System.Text.RegularExpressions;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// The tensors of one archive under construction into a model: looks them up by name with the
/// TensorFlow <c>:0</c> output suffix removed, checks shapes, and records which ones a layout used so
/// that anything left over is reported instead of ignored.
/// </summary>
internal sealed partial class ArchiveTensors
{
    private readonly Dictionary<string, NamedTensor> _byKey = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public ArchiveTensors(IReadOnlyDictionary<string, NamedTensor> tensors, string source)
    {
        Source = source;
        foreach (var (name, tensor) in tensors)
        {
            var key = KeyOf(name);
            if (!_byKey.TryAdd(key, tensor))
                throw new ModelFormatException($"{source}: tensors '{_byKey[key].Name}' and '{name}' have the same name once the ':N' suffix is removed");
        }
    }

    public string Source { get; }

    /// <summary>Names (':N' suffix removed) in a stable, ordinal order.</summary>
    public IEnumerable<string> Keys => _byKey.Keys.Order(StringComparer.Ordinal);

    public IEnumerable<string> UnusedKeys => Keys.Where(k => !_used.Contains(k));

    /// <summary>A name without TensorFlow's <c>:N</c> output-index suffix.</summary>
    public static string KeyOf(string name)
    {
        var m = OutputSuffix().Match(name);
        return m.Success ? name[..m.Index] : name;
    }

    public bool Contains(string key) => _byKey.ContainsKey(key);

    public NamedTensor Peek(string key) => _byKey[key];

    /// <summary>Takes a tensor that must exist, marking it used.</summary>
    public NamedTensor Take(string key, string role)
    {
        if (!_byKey.TryGetValue(key, out var tensor))
            throw Error($"tensor '{key}' ({role}) is missing");
        _used.Add(key);
        return tensor;
    }

    /// <summary>Takes a tensor if it exists, marking it used.</summary>
    public NamedTensor? TryTake(string key)
    {
        if (!_byKey.TryGetValue(key, out var tensor)) return null;
        _used.Add(key);
        return tensor;
    }

    /// <summary>Checks that <paramref name="tensor"/> has rank <paramref name="rank"/>.</summary>
    public void ExpectRank(NamedTensor tensor, int rank, string expected)
    {
        if (tensor.Rank != rank)
            throw Error($"tensor '{tensor.Name}' has shape {tensor.ShapeText}, expected {expected}");
    }

    /// <summary>Checks that <paramref name="tensor"/> has exactly <paramref name="shape"/>.</summary>
    public void ExpectShape(NamedTensor tensor, string meaning, params int[] shape)
    {
        if (!tensor.Shape.AsSpan().SequenceEqual(shape))
            throw Error($"tensor '{tensor.Name}' has shape {tensor.ShapeText}, expected {NamedTensor.FormatShape(shape)} ({meaning})");
    }

    /// <summary>Fails when any tensor was not used by the layout that built the model.</summary>
    public void ThrowIfAnyUnused(string layout)
    {
        var unused = UnusedKeys.Select(k => _byKey[k]).ToList();
        if (unused.Count == 0) return;
        var list = string.Join(", ", unused.Take(10).Select(t => $"'{t.Name}' {t.ShapeText}"));
        if (unused.Count > 10) list += $" and {unused.Count - 10} more";
        throw Error($"{unused.Count} tensor(s) are not part of the {layout} LSTM stack or a single dense head: {list}");
    }

    public ModelFormatException Error(string message) => new($"{Source}: {message}");

    [GeneratedRegex(@":\d+$")]
    private static partial Regex OutputSuffix();
}
