namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Math</c>: the matrix-multiply backend.</summary>
public sealed class MathSettings
{
    /// <summary>auto | managed | mkl | openblas | onednn (see <c>MatMulBackendRegistry</c>).</summary>
    public string Backend { get; set; } = "auto";

    /// <summary>Threads per matrix multiply.</summary>
    public int Threads { get; set; } = 1;
}
