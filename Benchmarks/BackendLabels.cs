using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Benchmarks;

/// <summary>Short names of the backends that actually multiply at a given row count, for the table.</summary>
internal static class BackendLabels
{
    /// <summary>e.g. <c>auto: managed</c> or <c>auto: onednn+onednn+managed</c> (one per matrix when they differ).</summary>
    public static string For(ModelMatMulBackends chosen, int rows)
    {
        var all = chosen.Layers.Concat(chosen.Head is null ? [] : [chosen.Head]);
        var names = all.Select(b => Concrete(b, rows)).ToList();
        return "auto: " + (names.Distinct().Count() == 1 ? names[0] : string.Join("+", names));
    }

    private static string Concrete(IMatMulBackend backend, int rows) =>
        backend is TunedMatMul tuned ? tuned.Plan.BackendFor(rows).Name : backend.Name;
}
