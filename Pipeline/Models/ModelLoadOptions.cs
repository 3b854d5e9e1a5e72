namespace LstmStream.Pipeline.Models;

/// <summary>
/// Settings a model file does not store but that its semantics depend on. They are applied by the
/// importers of formats that lack them (see each property); formats that store them ignore nothing
/// silently: a setting that does not apply to the file's layout is reported as an error.
/// </summary>
public sealed record ModelLoadOptions
{
    /// <summary>The options used when none are given.</summary>
    public static ModelLoadOptions Default { get; } = new();

    /// <summary>
    /// TensorFlow 1 <c>forget_bias</c> (default 1.0): added to the forget-gate bias of TensorFlow 1 weights,
    /// whose variables do not include it. Not applied to PyTorch or Keras weights, which store their full bias.
    /// </summary>
    public float ForgetBias { get; init; } = 1.0f;

    /// <summary>TensorFlow 1 <c>LSTMCell(cell_clip=…)</c>: the cell state is clamped to ±this. TensorFlow 1 weights only.</summary>
    public float? CellClip { get; init; }

    /// <summary>TensorFlow 1 <c>LSTMCell(proj_clip=…)</c>: the projected output is clamped to ±this. TensorFlow 1 weights with a projection only.</summary>
    public float? ProjectionClip { get; init; }

    /// <summary>The activation after a dense head found in a weight archive (archives do not store it). Default none.</summary>
    public HeadActivation HeadActivation { get; init; } = HeadActivation.None;

    /// <summary>The default <see cref="MaxModelBytes"/>: 1 GiB, a quarter of a billion float32 weights.</summary>
    public const long DefaultMaxModelBytes = 1L << 30;

    /// <summary>
    /// Most bytes a model may take: the file's size, and for a compressed <c>.npz</c> archive also the size its
    /// members inflate to together (checked against what each member's header promises before it is inflated).
    /// A larger model is refused with an error naming the file and the limit, before memory is allocated for it.
    /// </summary>
    public long MaxModelBytes
    {
        get => _maxModelBytes;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(MaxModelBytes));
            _maxModelBytes = value;
        }
    }

    private readonly long _maxModelBytes = DefaultMaxModelBytes;
}
