namespace LstmStream.Pipeline.Records;

/// <summary>Settings of an <see cref="NdjsonRunner"/>.</summary>
public sealed record NdjsonRunnerOptions
{
    /// <summary>Bytes asked of the input stream per read.</summary>
    public int ChunkBytes { get; init; } = 256 * 1024;

    /// <summary>The most rows in one parsed batch (one read chunk may give several batches).</summary>
    public int MaxRowsPerBatch { get; init; } = 1024;

    /// <summary>The longest accepted input line, in bytes; a longer one is rejected.</summary>
    public int MaxLineBytes { get; init; } = NdjsonBatchDecoder.DefaultMaxLineBytes;

    /// <summary>The longest accepted key, in UTF-8 bytes; a record with a longer one is rejected.</summary>
    public int MaxKeyBytes { get; init; } = NdjsonRecordParser.DefaultMaxKeyBytes;

    /// <summary>How many distinct keys the parser keeps interned.</summary>
    public int KeyCacheSize { get; init; } = NdjsonRecordParser.DefaultKeyCacheSize;

    /// <summary>Flush the output stream after every written batch (so an interactive reader sees outputs at once).</summary>
    public bool FlushEachBatch { get; init; } = true;

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    public void Validate()
    {
        if (ChunkBytes <= 0) throw new ArgumentOutOfRangeException(nameof(ChunkBytes), ChunkBytes, "must be positive");
        if (MaxRowsPerBatch <= 0) throw new ArgumentOutOfRangeException(nameof(MaxRowsPerBatch), MaxRowsPerBatch, "must be positive");
        if (MaxLineBytes <= 0) throw new ArgumentOutOfRangeException(nameof(MaxLineBytes), MaxLineBytes, "must be positive");
        if (MaxKeyBytes <= 0) throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), MaxKeyBytes, "must be positive");
        if (KeyCacheSize <= 0) throw new ArgumentOutOfRangeException(nameof(KeyCacheSize), KeyCacheSize, "must be positive");
    }
}
