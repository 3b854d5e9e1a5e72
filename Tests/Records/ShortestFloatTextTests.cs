using System.Globalization;
using System.Text;
using LstmStream.Pipeline.Records;

namespace LstmStream.Tests.Records;

/// <summary>
/// <see cref="ShortestFloatText"/> must write exactly what .NET writes. (When it was written, every one of the
/// 4,278,190,080 finite floats was compared once, outside the test suite; these tests keep the cases that matter.)
/// </summary>
public sealed class ShortestFloatTextTests
{
    private static void AssertSameAsDotNet(uint bits)
    {
        var value = BitConverter.UInt32BitsToSingle(bits);
        if (!float.IsFinite(value)) return;
        Span<byte> ours = stackalloc byte[ShortestFloatText.MaxBytes];
        Span<byte> theirs = stackalloc byte[32];
        int n = ShortestFloatText.Write(value, ours);
        Assert.True(value.TryFormat(theirs, out int expected, default, CultureInfo.InvariantCulture));
        if (!ours[..n].SequenceEqual(theirs[..expected]))
            Assert.Fail($"0x{bits:X8}: wrote {Encoding.ASCII.GetString(ours[..n])}, .NET writes {Encoding.ASCII.GetString(theirs[..expected])}");
    }

    [Theory]
    [InlineData(1f)] // around 1: the outputs of sigmoid and tanh
    [InlineData(1e-4f)] // where plain decimals switch to 1E-05
    [InlineData(16777216f)] // 2^24, where the exact path ends
    [InlineData(2.1684043E-19f)] // 2^-62, where the exact path begins
    [InlineData(0.15625f)]
    [InlineData(123456.7f)]
    public void Every_float_near_a_value_is_written_as_dotnet_writes_it(float center)
    {
        uint middle = BitConverter.SingleToUInt32Bits(center);
        for (uint bits = middle - (1 << 17); bits < middle + (1 << 17); bits++)
        {
            AssertSameAsDotNet(bits);
            AssertSameAsDotNet(bits | 0x8000_0000);
        }
    }

    [Fact]
    public void Powers_of_two_and_their_neighbours_are_written_as_dotnet_writes_them()
    {
        // A power of two has its lower neighbour closer than its upper one: the interval is lopsided there.
        for (uint biased = 0; biased < 255; biased++)
        {
            uint power = biased << 23;
            for (uint bits = Math.Max(power, 2) - 2; bits <= power + 2; bits++) AssertSameAsDotNet(bits);
        }
    }

    [Fact]
    public void Decimal_values_and_their_neighbours_are_written_as_dotnet_writes_them()
    {
        // Short decimals sit close to the rounding boundaries, where ties and inclusive bounds decide.
        for (int exponent = -15; exponent <= 10; exponent++)
        {
            for (int mantissa = 1; mantissa < 1000; mantissa++)
            {
                uint bits = BitConverter.SingleToUInt32Bits((float)(mantissa * Math.Pow(10, exponent)));
                for (uint near = bits - 2; near <= bits + 2; near++) AssertSameAsDotNet(near);
            }
        }
    }

    [Fact]
    public void Random_floats_are_written_as_dotnet_writes_them()
    {
        var random = new Random(20261130);
        for (int i = 0; i < 1_000_000; i++) AssertSameAsDotNet((uint)random.NextInt64(0, 1L << 32));
    }

    [Theory]
    [InlineData(0f, "0")]
    [InlineData(-0f, "-0")]
    [InlineData(0.5f, "0.5")]
    [InlineData(-0.0001f, "-0.0001")]
    [InlineData(1e-5f, "1E-05")]
    [InlineData(-1.2345e-5f, "-1.2345E-05")]
    [InlineData(100f, "100")]
    [InlineData(12.375f, "12.375")]
    [InlineData(0.19090165f, "0.19090165")]
    [InlineData(1e9f, "1E+09")]
    [InlineData(float.Epsilon, "1E-45")]
    public void Known_values(float value, string expected)
    {
        Span<byte> buffer = stackalloc byte[ShortestFloatText.MaxBytes];
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer[..ShortestFloatText.Write(value, buffer)]));
    }

    [Fact]
    public void A_short_destination_takes_a_text_that_fits_and_refuses_one_that_does_not()
    {
        var buffer = new byte[3];
        Assert.Equal(3, ShortestFloatText.Write(0.5f, buffer));
        Assert.Equal("0.5", Encoding.ASCII.GetString(buffer));
        Assert.Throws<ArgumentException>(() => ShortestFloatText.Write(0.25f, buffer));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Non_finite_values_are_refused(float value) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ShortestFloatText.Write(value, new byte[ShortestFloatText.MaxBytes]));
}
