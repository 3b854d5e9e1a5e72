using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// How big the messages between nodes get. A batch's routed records (<see cref="RoutedRecords"/>) and outputs
/// (<see cref="RoutedOutputs"/>) are cut into messages of at most <see cref="MaxRoutedBytes"/> serialized
/// (<see cref="ClusterMessageSerializer"/>), so that one message never holds the connection between two nodes for long
/// (a node's messages to another share one TCP connection, in order). The transport's frame limit,
/// <see cref="MaxFrameBytes"/>, is far above that: it is there for the bucket-state messages (<c>ApplyChanges</c>,
/// <c>LoadedKeys</c>), whose size is the bucket's keys' state (about 8 MB for a whole bucket of the sensor model at
/// 1,000,000 keys in 256 buckets) and which cross nodes only while a bucket moves (its keys live on its owner).
/// </summary>
public static class RoutedMessageSize
{
    /// <summary>The remoting frame limit (<c>akka.remote.dot-netty.tcp.maximum-frame-size</c>): the largest message between nodes.</summary>
    public const int MaxFrameBytes = 16 * 1024 * 1024;

    /// <summary>The most bytes one routed message takes serialized; a larger batch of one bucket or origin goes as several.</summary>
    public const int MaxRoutedBytes = 256 * 1024;

    /// <summary>Room for a routed message's fixed part: bucket, width, count and the reply address (an actor path).</summary>
    public const int HeaderBytes = 4 * 1024;

    /// <summary>
    /// An upper bound of the bytes row <c>key</c> of <paramref name="width"/> floats takes in a routed message: the key
    /// (at most 3 UTF-8 bytes per UTF-16 char, a length prefix of at most 5), seq, flags, tag and the floats.
    /// </summary>
    public static long RowBytesBound(string key, int width) => 5 + 3L * key.Length + sizeof(long) + sizeof(StepFlags) + sizeof(long) + 4L * width;

    /// <summary>
    /// How many of <paramref name="rows"/> (rows of a batch whose keys are <paramref name="keys"/>), from the first,
    /// go into one routed message of <see cref="MaxRoutedBytes"/>: at least one.
    /// </summary>
    public static int RowsThatFit(ReadOnlySpan<string> keys, ReadOnlySpan<int> rows, int width)
    {
        long bytes = HeaderBytes;
        for (var i = 0; i < rows.Length; i++)
        {
            bytes += RowBytesBound(keys[rows[i]], width);
            if (bytes > MaxRoutedBytes) return Math.Max(1, i);
        }

        return rows.Length;
    }
}
