using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Operations;

/// <summary>What the admin path asks of durable sessions (implemented by the service's session store).</summary>
public interface ISessionStoreAccess
{
    /// <summary>A store is configured (<c>LstmStream:Sessions:Store</c> is not <c>none</c>).</summary>
    bool Enabled { get; }

    /// <summary>Takes a checkpoint now; throws a <see cref="SessionStoreException"/> when a bucket could not be written.</summary>
    Task<CheckpointCoordinatorActor.CheckpointCompleted> CheckpointAsync(TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>The stored state of <paramref name="key"/>, or null.</summary>
    Task<KeyState?> GetStoredAsync(string key, CancellationToken cancellationToken);
}
