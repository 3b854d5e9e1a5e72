using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// The running pipeline as the checkpoint coordinator sees it: its dirty buckets and the export of one bucket's
/// live keys, both taken through the stream by <see cref="PipelineStateAccess"/> (ordered with the data; the
/// export reaches the pipeline's <see cref="ISessionStore.Accept"/> before the task completes).
/// </summary>
public sealed class PipelineCheckpointSource(PipelineStateAccess state) : ICheckpointSource
{
    private readonly PipelineStateAccess _state = state ?? throw new ArgumentNullException(nameof(state));

    /// <inheritdoc />
    public Task<IReadOnlyList<int>> DirtyBucketsAsync() => _state.DirtyBucketsAsync();

    /// <inheritdoc />
    public Task<int> CheckpointAsync(int bucket) => _state.CheckpointAsync(bucket);
}
