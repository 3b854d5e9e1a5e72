namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// A backend that sends each multiply to the backend its <see cref="MatMulDispatchPlan"/> chose for that
/// row count (usually made by <see cref="MatMulAutotuner"/> for one layer's shape). <see cref="Pack"/> packs
/// B once with every backend of the plan, so each keeps its own copy in its own form; dispatch is a scan
/// of a few ranges and allocates nothing.
/// <para>Thread safety: that of the plan's backends (it keeps no state of its own).</para>
/// </summary>
internal sealed class TunedMatMul : IMatMulBackend
{
    public const string BackendName = "auto";

    public TunedMatMul(MatMulDispatchPlan plan, string shapeLabel = "", IReadOnlyList<MatMulTiming>? timings = null)
    {
        Plan = plan ?? throw new ArgumentNullException(nameof(plan));
        ShapeLabel = shapeLabel;
        Timings = timings ?? [];
        Capabilities = plan.Backends.SelectMany(b => b.Capabilities).Distinct().ToArray();
    }

    public string Name => BackendName;

    public MatMulDispatchPlan Plan { get; }

    /// <summary>The shape the plan was tuned on, e.g. <c>[288x1024]</c> (empty when not tuned).</summary>
    public string ShapeLabel { get; }

    /// <summary>What the autotuner measured (empty when the plan was given).</summary>
    public IReadOnlyList<MatMulTiming> Timings { get; }

    /// <summary>For logs: e.g. <c>[288x1024]: rows&lt;=16 managed, rows&gt;16 onednn</c>.</summary>
    public string Description => ShapeLabel.Length == 0 ? Plan.ToString() : $"{ShapeLabel}: {Plan}";

    /// <summary>That of the backend the plan sends <paramref name="rows"/> rows to.</summary>
    public MatMulCapability CapabilityFor(int rows) => Plan.BackendFor(rows).CapabilityFor(rows);

    public IReadOnlyList<MatMulCapability> Capabilities { get; }

    public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns)
    {
        var backends = Plan.Backends;
        var parts = new IPackedMatrix[Plan.Ranges.Count];
        var packedBy = new Dictionary<IMatMulBackend, IPackedMatrix>(ReferenceEqualityComparer.Instance);
        foreach (var backend in backends) packedBy[backend] = backend.Pack(b, rows, columns);
        for (var i = 0; i < parts.Length; i++) parts[i] = packedBy[Plan.Ranges[i].Backend];
        return new TunedPackedMatrix(this, rows, columns, parts);
    }

    public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c)
    {
        ArgumentNullException.ThrowIfNull(b);
        if (b is not TunedPackedMatrix packed || !ReferenceEquals(packed.Owner, this))
            throw new ArgumentException($"B was packed by {b.GetType().Name}, not by this auto backend; pack it with the backend that multiplies", nameof(b));
        var index = Plan.RangeIndexFor(m);
        Plan.Ranges[index].Backend.Multiply(a, m, packed.Parts[index], bias, c);
    }

    public override string ToString() => Description;

    private sealed class TunedPackedMatrix(TunedMatMul owner, int rows, int columns, IPackedMatrix[] parts) : IPackedMatrix
    {
        public TunedMatMul Owner { get; } = owner;
        public int Rows { get; } = rows;
        public int Columns { get; } = columns;

        /// <summary>B as packed by the backend of each plan range (shared between ranges of one backend).</summary>
        public IPackedMatrix[] Parts { get; } = parts;
    }
}
