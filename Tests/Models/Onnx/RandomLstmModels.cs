using LstmStream.Pipeline.Models;

namespace LstmStream.Tests.Models.Onnx;

/// <summary>What a random model may contain.</summary>
internal sealed record RandomModelSpec(
    int InputSize,
    int[] Hidden,
    bool Peepholes,
    bool Bias,
    float? GateClip,
    bool InputForget,
    HeadActivation? Head,
    int HeadOutputs)
{
    public override string ToString() =>
        $"in {InputSize}, layers [{string.Join(",", Hidden)}], peepholes {Peepholes}, bias {Bias}, clip {GateClip?.ToString() ?? "-"}, " +
        $"input_forget {InputForget}, head {(Head is null ? "-" : $"{HeadOutputs}+{Head}")}";
}

/// <summary>Random models and inputs for the differential and round-trip tests.</summary>
internal static class RandomLstmModels
{
    public static RandomModelSpec Spec(int seed)
    {
        var rng = new Random(seed);
        int layers = 1 + rng.Next(3);
        HeadActivation?[] heads = [null, HeadActivation.None, HeadActivation.Sigmoid, HeadActivation.Tanh, HeadActivation.Relu, HeadActivation.Softmax];
        return new RandomModelSpec(
            InputSize: 1 + rng.Next(40),
            Hidden: Enumerable.Range(0, layers).Select(_ => 1 + rng.Next(70)).ToArray(),
            Peepholes: (seed & 1) != 0,
            Bias: (seed & 2) != 0,
            GateClip: seed % 3 == 0 ? 0.5f + 2.5f * rng.NextSingle() : null,
            InputForget: seed % 5 == 2,
            Head: heads[seed % heads.Length],
            HeadOutputs: 1 + rng.Next(8));
    }

    public static LstmModel Build(RandomModelSpec spec, int seed)
    {
        var rng = new Random(seed * 7919 + 17);
        var layers = new List<LstmLayer>();
        int input = spec.InputSize;
        foreach (var hidden in spec.Hidden)
        {
            float scale = 1.5f / MathF.Sqrt(input + hidden);
            var kernel = Uniform(rng, (input + hidden) * 4 * hidden, scale);
            var bias = spec.Bias ? Uniform(rng, 4 * hidden, 0.5f) : new float[4 * hidden];
            float[]? pi = null, pf = null, po = null;
            if (spec.Peepholes)
            {
                pi = Uniform(rng, hidden, 0.5f);
                pf = Uniform(rng, hidden, 0.5f);
                po = Uniform(rng, hidden, 0.5f);
            }

            layers.Add(new LstmLayer(input, hidden, kernel, bias, pi, pf, po, gateClip: spec.GateClip, inputForget: spec.InputForget));
            input = hidden;
        }

        DenseHead? head = spec.Head is { } act
            ? new DenseHead(input, spec.HeadOutputs, Uniform(rng, input * spec.HeadOutputs, 1f), Uniform(rng, spec.HeadOutputs, 0.5f), act)
            : null;
        return new LstmModel(layers, head, $"random seed {seed}");
    }

    public static float[] Uniform(Random rng, int count, float scale)
    {
        var v = new float[count];
        for (var i = 0; i < count; i++) v[i] = scale * (2f * rng.NextSingle() - 1f);
        return v;
    }
}
