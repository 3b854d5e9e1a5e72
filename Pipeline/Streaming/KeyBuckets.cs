using System.IO.Hashing;
using System.Text;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Which bucket a key falls into: XxHash3 (64 bit) of the key's UTF-8 bytes, modulo the bucket count. The same
/// on every process, machine and .NET version (unlike <see cref="string.GetHashCode()"/>), so a bucket's stored
/// sessions and, with sharding, its owner node are found again after a restart.
/// </summary>
public static class KeyBuckets
{
    /// <summary>The bucket of <paramref name="key"/> among <paramref name="bucketCount"/> buckets (0 ≤ result &lt; count).</summary>
    public static int BucketOf(string key, int bucketCount)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketCount);
        var length = Encoding.UTF8.GetMaxByteCount(key.Length);
        var hash = length <= 512 ? HashSmall(key, length) : XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(key));
        return (int)(hash % (ulong)bucketCount);
    }

    private static ulong HashSmall(string key, int maxBytes)
    {
        Span<byte> utf8 = stackalloc byte[maxBytes];
        var written = Encoding.UTF8.GetBytes(key, utf8);
        return XxHash3.HashToUInt64(utf8[..written]);
    }
}
