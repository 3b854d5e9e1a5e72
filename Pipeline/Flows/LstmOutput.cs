namespace LstmStream.Pipeline.Flows;

/// <summary>The model's output for one step: the dense head's output, or the top layer's h when the model has no head.</summary>
public sealed record LstmOutput : LstmResult
{
    /// <param name="key">The step's key.</param>
    /// <param name="seq">The step's <see cref="LstmStep.Seq"/>.</param>
    /// <param name="y">The output vector (<c>LstmModel.OutputSize</c> values), owned by the receiver.</param>
    public LstmOutput(string key, long? seq, float[] y)
        : base(key, seq)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(y);
        Y = y;
    }

    /// <summary>The step's key.</summary>
    public new string Key => base.Key!;

    /// <summary>The output vector.</summary>
    public float[] Y { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Key}{(Seq is { } s ? $" #{s}" : "")}: [{string.Join(", ", Y)}]";
}
