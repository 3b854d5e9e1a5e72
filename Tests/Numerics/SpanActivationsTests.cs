using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

public sealed class SpanActivationsTests
{
    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Every_value_gets_the_same_bits_whatever_the_spans_length_or_its_place_in_it(int bits)
    {
        var rng = new Random(5);
        var values = ReferenceLstmCell.RandomValues(rng, 40).Select(v => v * 6).ToArray();
        foreach (var tanh in new[] { false, true })
        {
            // Each value alone (a span of one: the masked tail only) ...
            var alone = values.Select(v =>
            {
                var one = new[] { v };
                Activate(one, tanh, bits);
                return one[0];
            }).ToArray();
            // ... equals the same value in every prefix and every shifted window of the spans.
            for (var length = 1; length <= values.Length; length++)
            {
                for (var start = 0; start + length <= values.Length; start += 7)
                {
                    var copy = values.ToArray();
                    Activate(copy.AsSpan(start, length), tanh, bits);
                    for (var i = 0; i < values.Length; i++)
                    {
                        bool inside = i >= start && i < start + length;
                        Assert.Equal(inside ? alone[i] : values[i], copy[i]);
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Values_are_within_1e_6_relative_of_double(int bits)
    {
        var xs = Enumerable.Range(-4000, 8001).Select(i => i / 200f).ToArray();
        var sig = xs.ToArray();
        var tanh = xs.ToArray();
        SpanActivations.Sigmoid(sig, bits);
        SpanActivations.Tanh(tanh, bits);
        for (var i = 0; i < xs.Length; i++)
        {
            double s = 1 / (1 + Math.Exp(-(double)xs[i])), t = Math.Tanh(xs[i]);
            Assert.True(Math.Abs(sig[i] - s) <= 1e-6 * s, $"sigmoid({xs[i]:R}) = {sig[i]:R}, expected {s:R}");
            Assert.True(Math.Abs(tanh[i] - t) <= 1e-6 * Math.Abs(t) + 1e-45, $"tanh({xs[i]:R}) = {tanh[i]:R}, expected {t:R}");
        }
    }

    [Fact]
    public void An_unknown_vector_width_is_refused_with_the_width_named()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => SpanActivations.Sigmoid(new float[3], 64));
        Assert.Contains("512, 256 or 128", error.Message, StringComparison.Ordinal);
    }

    private static void Activate(Span<float> values, bool tanh, int bits)
    {
        if (tanh) SpanActivations.Tanh(values, bits);
        else SpanActivations.Sigmoid(values, bits);
    }
}
