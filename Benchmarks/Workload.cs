using LstmStream.Pipeline.Models;

namespace LstmStream.Benchmarks;

/// <summary>
/// One benchmark model: a seeded random stack (<see cref="RandomModel"/>) of the shape the benchmark names.
/// <see cref="Gemms"/> lists the matrix multiplies one step of one key costs (each layer's
/// <c>[x | h] · W</c>, then the head), which is what GFLOP/s and the ceiling are computed from.
/// </summary>
internal sealed class Workload
{
    private Workload(string name, int inputSize, int[] cells, int headOutputs, HeadActivation headActivation)
    {
        Name = name;
        Model = RandomModel.Create(inputSize, cells, headOutputs, headActivation, seed: 20261129, source: $"benchmark workload {name}");
        var gemms = Model.Layers.Select((l, k) => new GemmShape($"layer {k}", l.ConcatSize, l.GateWidth)).ToList();
        if (Model.Head is { } head) gemms.Add(new GemmShape("head", head.InputSize, head.OutputSize));
        Gemms = gemms;
    }

    public string Name { get; }

    public LstmModel Model { get; }

    public IReadOnlyList<GemmShape> Gemms { get; }

    /// <summary>Floating-point operations of one step of one key: Σ 2·K·N over <see cref="Gemms"/>.</summary>
    public double FlopsPerStep => Gemms.Sum(g => 2.0 * g.K * g.N);

    /// <summary>Bytes of one key's raw recurrent state: Σ over layers of (c + h) floats.</summary>
    public long RawStateBytes => Model.Layers.Sum(l => (long)(l.CellSize + l.OutputSize) * sizeof(float));

    public string Describe() =>
        $"{Model.InputSize} → {string.Join(", ", Model.Layers.Select(l => l.CellSize))}" +
        (Model.Head is { } h ? $" → dense {h.OutputSize} {h.Activation.ToString().ToLowerInvariant()}" : "");

    /// <summary>The tutorial's model: 6 inputs → layers 4, 5.</summary>
    public static Workload Seed() => new("seed", 6, [4, 5], 0, HeadActivation.None);

    /// <summary>16 inputs → layers 128, 128 → dense head of 1 output with a sigmoid.</summary>
    public static Workload Sensor() => new("sensor", 16, [128, 128], 1, HeadActivation.Sigmoid);

    /// <summary>32 inputs → layers 256, 256.</summary>
    public static Workload Wide() => new("wide", 32, [256, 256], 0, HeadActivation.None);

    public static IReadOnlyList<string> Names { get; } = ["seed", "sensor", "wide"];

    public static Workload ByName(string name) => name switch
    {
        "seed" => Seed(),
        "sensor" => Sensor(),
        "wide" => Wide(),
        _ => throw new ArgumentException($"unknown workload '{name}'; expected one of {string.Join(", ", Names)}"),
    };
}

/// <summary>One matrix multiply of a step: A <c>[rows × K]</c> · B <c>[K × N]</c>.</summary>
internal sealed record GemmShape(string Label, int K, int N);
