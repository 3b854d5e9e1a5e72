namespace LstmStream.Pipeline.Streaming;

/// <summary>What a materialized <see cref="LstmPipeline"/> gives back: state access and session figures.</summary>
public sealed record LstmPipelineHandle(PipelineStateAccess State, SessionCounters Sessions);
