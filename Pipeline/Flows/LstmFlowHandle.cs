using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// What a materialized <see cref="LstmFlow"/> gives back: the keys' state (export, import, reset, drop, counts in
/// stream order), the session figures right now and the flow's step counters.
/// </summary>
/// <param name="State">Export and import of keys' state, reset, drop and session counts, ordered with the steps in flight.</param>
/// <param name="Sessions">Live keys, keys created, ended and evicted, batches: read at any time.</param>
/// <param name="Steps">Steps taken in, rejected and outputs emitted.</param>
public sealed record LstmFlowHandle(PipelineStateAccess State, SessionCounters Sessions, LstmStepCounters Steps);
