namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>How <see cref="MatMulAutotuner"/> measures.</summary>
public sealed record MatMulAutotuneOptions
{
    /// <summary>Row counts timed, ascending. Larger ones are skipped when they would overrun the budget.</summary>
    public IReadOnlyList<int> BatchSizes { get; init; } = [1, 8, 64, 512, 4096];

    /// <summary>
    /// Timed repetitions per backend and row count (after two warm-up calls); the fastest counts (interference from
    /// other threads and processes only ever slows a repetition down).
    /// </summary>
    public int Repetitions { get; init; } = 5;

    /// <summary>Each repetition loops calls until at least this long, so tiny calls are timed reliably.</summary>
    public TimeSpan MinRepetitionTime { get; init; } = TimeSpan.FromMicroseconds(50);

    /// <summary>
    /// A backend listed later must beat every earlier one by more than this fraction to be chosen, so that
    /// noise does not move a row range away from the managed kernel (listed first) for nothing.
    /// </summary>
    public double PreferEarlierWithin { get; init; } = 0.03;

    /// <summary>
    /// Interleave the repetitions of the backends (one of each in turn; the default, right for one thread each), or
    /// time the backends one after another, every row count of one before the next — right when backends run thread
    /// pools, which spin for a while after each call (OpenBLAS's for up to a tenth of a second) and would slow
    /// whichever backend is timed next on the same cores.
    /// </summary>
    public bool Interleave { get; init; } = true;

    /// <summary>Rest before each backend when not interleaving, so the previous backend's pool can go idle.</summary>
    public TimeSpan SettleTime { get; init; } = TimeSpan.Zero;

    /// <summary>Time for tuning every matrix of one model together (split over its matrices).</summary>
    public TimeSpan ModelBudget { get; init; } = TimeSpan.FromMilliseconds(400);

    /// <summary>Seed of the random operands (timing does not depend on values; only keeps runs alike).</summary>
    public int Seed { get; init; } = 12345;

    internal void Validate()
    {
        if (BatchSizes is null || BatchSizes.Count == 0) throw new ArgumentException("autotune needs at least one batch size");
        for (var i = 0; i < BatchSizes.Count; i++)
        {
            if (BatchSizes[i] < 1 || (i > 0 && BatchSizes[i] <= BatchSizes[i - 1]))
                throw new ArgumentException($"autotune batch sizes must be positive and ascending, got {string.Join(", ", BatchSizes)}");
        }

        if (Repetitions < 1) throw new ArgumentException($"autotune repetitions must be at least 1, got {Repetitions}");
        if (PreferEarlierWithin < 0) throw new ArgumentException($"autotune preference margin must not be negative, got {PreferEarlierWithin}");
        if (SettleTime < TimeSpan.Zero) throw new ArgumentException($"autotune settle time must not be negative, got {SettleTime}");
        if (ModelBudget <= TimeSpan.Zero) throw new ArgumentException($"autotune budget must be positive, got {ModelBudget}");
    }
}
