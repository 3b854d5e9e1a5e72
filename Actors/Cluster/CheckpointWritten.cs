namespace LstmStream.Actors.Cluster;

/// <summary>
/// From a node that steps records other nodes accepted (their buckets' owner) to those nodes' <see cref="RoutedOutputsActor"/>,
/// after each checkpoint round it writes: every record whose <see cref="RoutedOutputs"/> carried an
/// <see cref="RoutedOutputs.OwnerRound"/> below <paramref name="Round"/> is in the store, so the accepting node may
/// acknowledge (MQTT) or commit (TCP) it once its own round covering the delivery is written too. Sent by the owner's
/// <see cref="RoutedOutputsActor"/> (the sender names the owner, as for its outputs).
/// </summary>
public sealed record CheckpointWritten(long Round);
