namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// One row-count range of a <see cref="MatMulDispatchPlan"/>: calls with <c>rows ≤ MaxRows</c> (and more rows
/// than the previous range's <see cref="MaxRows"/>) go to <see cref="Backend"/>. The last range has
/// <see cref="MaxRows"/> = <see cref="int.MaxValue"/>.
/// </summary>
internal sealed record MatMulDispatchRange(int MaxRows, IMatMulBackend Backend);
