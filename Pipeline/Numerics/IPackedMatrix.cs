namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// The right-hand side B of <c>C = A · B</c>, a constant weight matrix packed once (at model load) in
/// whatever form its <see cref="IMatMulBackend"/> multiplies fastest.
/// </summary>
public interface IPackedMatrix
{
    /// <summary>K: rows of B, the width of each row of A.</summary>
    int Rows { get; }

    /// <summary>N: columns of B, the width of each row of C.</summary>
    int Columns { get; }
}
