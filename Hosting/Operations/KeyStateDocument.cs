using System.Text.Json;
using System.Text.Json.Serialization;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// A key's state as JSON on the admin path (<c>GET</c> / <c>PUT /admin/keys/{key}</c>): plain arrays per layer and the
/// model identity, so it can be read, kept and put back (into the same model). Floats are written shortest
/// round-trip (the same bits come back); NaN and infinities as the strings "NaN", "Infinity", "-Infinity".
/// </summary>
public sealed record KeyStateDocument
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string? Key { get; init; }

    /// <summary>True when the key holds state in the running pipeline (what is shown then), false when only stored.</summary>
    public bool? Live { get; init; }

    public string? ModelIdentity { get; init; }

    public long? LastSeq { get; init; }

    /// <summary>Per layer, the cell state <c>c</c>.</summary>
    public float[][]? C { get; init; }

    /// <summary>Per layer, the output <c>h</c>.</summary>
    public float[][]? H { get; init; }

    public static KeyStateDocument From(KeyState state, bool live) => new()
    {
        Key = state.Key,
        Live = live,
        ModelIdentity = state.ModelIdentity,
        LastSeq = state.LastSeq,
        C = state.C,
        H = state.H,
    };

    /// <summary>The state for <paramref name="key"/>; an <see cref="ArgumentException"/> names a missing or mismatched field.</summary>
    public KeyState ToState(string key)
    {
        if (Key is not null && Key != key) throw new ArgumentException($"the document is for key '{Key}', the path names '{key}'");
        if (string.IsNullOrEmpty(ModelIdentity)) throw new ArgumentException("modelIdentity is missing");
        if (C is null) throw new ArgumentException("c is missing");
        if (H is null) throw new ArgumentException("h is missing");
        if (C.Length != H.Length) throw new ArgumentException($"c has {C.Length} layers, h has {H.Length}");
        for (var layer = 0; layer < C.Length; layer++)
        {
            if (C[layer] is null || H[layer] is null) throw new ArgumentException($"layer {layer} of c or h is null");
        }

        return new KeyState(ModelIdentity, key, C, H) { LastSeq = LastSeq };
    }
}
