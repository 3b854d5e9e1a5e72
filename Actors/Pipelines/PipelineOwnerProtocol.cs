using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Pipelines;

/// <summary>
/// The messages a <see cref="PipelineOwnerActor"/> answers besides the
/// <see cref="Sessions.SessionAdminProtocol"/> requests it forwards to the running pipeline's sessions.
/// </summary>
public static class PipelineOwnerProtocol
{
    /// <summary>
    /// Materialize <paramref name="Graph"/> (inbox → LstmPipeline → outbox) on the owner's own materializer.
    /// Answer: <see cref="PipelineStarted"/>; <see cref="Akka.Actor.Status.Failure"/> when a pipeline already
    /// ran under this owner or the graph cannot be materialized.
    /// </summary>
    public sealed record StartPipeline(IRunnableGraph<(LstmPipelineHandle Handle, Task Completion)> Graph);

    /// <summary>The materialized graph: the pipeline's handle and the task that completes when it has stopped.</summary>
    public sealed record PipelineStarted(LstmPipelineHandle Handle, Task Completion);

    /// <summary>The owner's own note that its pipeline stopped (<paramref name="Failure"/> null: it completed).</summary>
    internal sealed record PipelineStopped(Exception? Failure);
}
