using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// Writes a finite <see cref="float"/> as UTF-8 text exactly as <c>value.TryFormat(…, default,
/// CultureInfo.InvariantCulture)</c> does (the shortest text that parses back to the same float, the one
/// closest to the value among those, a tie to the even last digit; <c>1E-05</c>, <c>-0</c>), several times
/// faster for the values a model emits.
/// <para>
/// Normal floats from about 1.8e-12 up to 2^24 take an exact integer path. With the value
/// <c>v = m·2^e</c> (24-bit <c>m</c>), the neighbours' rounding boundaries are <c>v ± 2^(e-1)</c> (the lower
/// one <c>2^(e-2)</c> below a power of two), and they count as part of the interval when <c>m</c> is even
/// (round-half-even parsing gives them back to <c>v</c>). All three are scaled onto a decimal grid of step
/// <c>10^-k</c>, at most half an ulp, by one 64×64-bit multiply and a shift each: <c>[a, b]</c> are the grid
/// points inside the interval. The shortest text is the largest power of ten <c>10^j</c> with a multiple in
/// <c>[a, b]</c> (dropping trailing decimals while one is still inside), and of the multiples there the one
/// closest to <c>v</c>, the even one on a tie. Everything else (subnormals, larger or smaller magnitudes) is
/// formatted by .NET itself. Layout as .NET's general format: plain digits for decimal exponents from -5 to 8
/// (<c>0.0001</c>, <c>123456790</c>), otherwise <c>d.dddE±xx</c>.
/// </para>
/// </summary>
internal static class ShortestFloatText
{
    /// <summary>The longest text of a finite float: <c>-1.17549435E-38</c> is 15 bytes.</summary>
    public const int MaxBytes = 16;

    /// <summary>The most shift bits of the exact path: the grid step and the products stay within 64 bits.</summary>
    private const int MaxShift = 64;

    /// <summary>The smallest <c>k</c> with <c>10^k ≥ 2^(s-1)</c>, for shift <c>s</c> = 1 … <see cref="MaxShift"/>.</summary>
    private static readonly byte[] GridExponent = BuildGridExponents();

    private static readonly ulong[] PowersOfTen = BuildPowersOfTen();

    /// <summary>"00" … "99".</summary>
    private static readonly byte[] DigitPairs = BuildDigitPairs();

    /// <summary>
    /// Writes finite <paramref name="value"/> and returns the number of bytes written; <paramref name="destination"/>
    /// needs <see cref="MaxBytes"/> bytes (or only as many as the text takes).
    /// </summary>
    public static int Write(float value, Span<byte> destination)
    {
        if (!float.IsFinite(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "only finite floats have a JSON text");
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) == 0) return WriteZero(bits != 0, destination);
        int biased = (int)((bits >> 23) & 0xFF);
        uint fraction = bits & 0x7F_FFFF;
        // Normal values 2^-62 ≤ |v| < 2^24: e = biased - 150 in [-62, 0], shift s = 2 - e in [2, 64].
        int shift = 152 - biased;
        if (biased == 0 || shift < 2 || shift > MaxShift || destination.Length < MaxBytes) return WriteByDotNet(value, destination);

        ulong m = fraction | (1u << 23);
        int k = GridExponent[shift];
        ulong scale = PowersOfTen[k];
        bool inclusive = (m & 1) == 0;

        // v, its upper and lower boundary in units of 2^(e-2): 4m, 4m + 2, 4m - 2 (4m - 1 below a power of two).
        ulong lower = fraction == 0 && biased > 1 ? 4 * m - 1 : 4 * m - 2;
        ulong vFloor = ScaledFloor(4 * m, scale, shift, out ulong vRemainder);
        ulong hFloor = ScaledFloor(4 * m + 2, scale, shift, out ulong hRemainder);
        ulong lFloor = ScaledFloor(lower, scale, shift, out ulong lRemainder);

        // Grid points inside the interval: [a, b].
        ulong a = lRemainder != 0 || !inclusive ? lFloor + 1 : lFloor;
        ulong b = hRemainder != 0 || inclusive ? hFloor : hFloor - 1;

        // Drop trailing decimals while a multiple of the next power of ten is still in [a, b]: the largest j with
        // a multiple of 10^j there. v in units of 10^j is kept as its integer part, the last digit dropped and
        // whether everything below that digit (the earlier digits and the grid fraction) is zero.
        ulong d = vFloor;
        int j = 0;
        uint lastDropped = 0;
        bool zerosBelow = vRemainder == 0;
        while (true)
        {
            ulong nextA = (a + 9) / 10, nextB = b / 10;
            if (nextA > nextB) break;
            a = nextA;
            b = nextB;
            ulong nextD = d / 10;
            zerosBelow &= lastDropped == 0;
            lastDropped = (uint)(d - nextD * 10);
            d = nextD;
            j++;
        }

        // Round to the closest multiple, a tie to the even one; stay inside [a, b].
        int above = j == 0
            ? vRemainder.CompareTo(1UL << (shift - 1))
            : lastDropped != 5 ? lastDropped.CompareTo(5u) : zerosBelow ? 0 : 1;
        bool up = above > 0 || (above == 0 && (d & 1) == 1);
        ulong digits = up ? d + 1 : d;
        if (digits < a) digits = d + 1;
        else if (digits > b) digits = d;

        // value = digits · 10^(j - k) = 0.d1d2…dn · 10^pointPosition
        int count = DigitCount(digits);
        int n = 0;
        if ((bits & 0x8000_0000) != 0) destination[n++] = (byte)'-';
        return n + Layout(digits, count, count + j - k, destination[n..]);
    }

    /// <summary>floor(x · 10^k / 2^s) and the remainder's numerator (over 2^s); x &lt; 2^26, 10^k &lt; 2^64, s ≤ 64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ScaledFloor(ulong x, ulong scale, int shift, out ulong remainder)
    {
        ulong high = Math.BigMul(x, scale, out ulong low);
        if (shift == 64)
        {
            remainder = low;
            return high;
        }

        remainder = low & ((1UL << shift) - 1);
        return (high << (64 - shift)) | (low >> shift);
    }

    private static int DigitCount(ulong value)
    {
        // floor(log10) from floor(log2) (1233 / 4096 ≈ log10 2), one too small at most.
        int guess = ((BitOperations.Log2(value) + 1) * 1233) >> 12;
        return guess + (value >= PowersOfTen[guess] ? 1 : 0);
    }

    /// <summary>Writes the <paramref name="count"/> digits of <paramref name="digits"/> with the point after <paramref name="pointPosition"/> of them.</summary>
    private static int Layout(ulong digits, int count, int pointPosition, Span<byte> destination)
    {
        if (pointPosition > 9 || pointPosition < -3)
        {
            // d.ddddE±xx: the digits from offset 1, then the first one moved in front of the point.
            int n = 1;
            if (count > 1)
            {
                WriteDigits(digits, destination.Slice(1, count));
                destination[0] = destination[1];
                destination[1] = (byte)'.';
                n = count + 1;
            }
            else
            {
                destination[0] = (byte)('0' + (int)digits);
            }

            int exponent = pointPosition - 1;
            destination[n++] = (byte)'E';
            destination[n++] = exponent < 0 ? (byte)'-' : (byte)'+';
            exponent = Math.Abs(exponent);
            if (exponent >= 100) destination[n++] = (byte)('0' + exponent / 100);
            destination[n++] = (byte)('0' + exponent / 10 % 10);
            destination[n++] = (byte)('0' + exponent % 10);
            return n;
        }

        if (pointPosition <= 0)
        {
            // 0.000ddd
            int zeros = -pointPosition;
            destination[0] = (byte)'0';
            destination[1] = (byte)'.';
            destination.Slice(2, zeros).Fill((byte)'0');
            WriteDigits(digits, destination.Slice(2 + zeros, count));
            return 2 + zeros + count;
        }

        if (pointPosition >= count)
        {
            // ddd000
            WriteDigits(digits, destination[..count]);
            destination[count..pointPosition].Fill((byte)'0');
            return pointPosition;
        }

        // dd.ddd: the digits from offset 1, then the integer part moved in front of the point.
        WriteDigits(digits, destination.Slice(1, count));
        for (int i = 0; i < pointPosition; i++) destination[i] = destination[i + 1];
        destination[pointPosition] = (byte)'.';
        return count + 1;
    }

    /// <summary>Writes <paramref name="value"/> as exactly <c>destination.Length</c> decimal digits, two at a time.</summary>
    private static void WriteDigits(ulong value, Span<byte> destination)
    {
        int i = destination.Length;
        while (i >= 2)
        {
            ulong next = value / 100;
            int pair = (int)(value - next * 100) * 2;
            destination[--i] = DigitPairs[pair + 1];
            destination[--i] = DigitPairs[pair];
            value = next;
        }

        if (i == 1) destination[0] = (byte)('0' + (int)value);
    }

    private static int WriteZero(bool negative, Span<byte> destination)
    {
        var text = negative ? "-0"u8 : "0"u8;
        text.CopyTo(destination);
        return text.Length;
    }

    private static int WriteByDotNet(float value, Span<byte> destination)
    {
        if (!value.TryFormat(destination, out int written, default, CultureInfo.InvariantCulture))
            throw new ArgumentException($"destination holds {destination.Length} bytes, a float needs up to {MaxBytes}", nameof(destination));
        return written;
    }

    private static byte[] BuildGridExponents()
    {
        var table = new byte[MaxShift + 1];
        for (int s = 1; s <= MaxShift; s++)
        {
            var power = BigInteger.One << (s - 1);
            int k = 0;
            while (BigInteger.Pow(10, k) < power) k++;
            table[s] = (byte)k;
        }

        return table;
    }

    private static byte[] BuildDigitPairs()
    {
        var pairs = new byte[200];
        for (int i = 0; i < 100; i++)
        {
            pairs[2 * i] = (byte)('0' + i / 10);
            pairs[2 * i + 1] = (byte)('0' + i % 10);
        }

        return pairs;
    }

    private static ulong[] BuildPowersOfTen()
    {
        var powers = new ulong[20];
        powers[0] = 1;
        for (int i = 1; i < powers.Length; i++) powers[i] = powers[i - 1] * 10;
        return powers;
    }
}
