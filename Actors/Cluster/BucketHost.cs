namespace LstmStream.Actors.Cluster;

/// <summary>What a node gives its bucket entities (cluster mode): its pipeline, its directory of entities, its figures.</summary>
public sealed record BucketHost(IBucketPipeline Pipeline, LocalBuckets Entities, HandOffFigures Figures);
