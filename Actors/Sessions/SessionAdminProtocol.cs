using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Sessions;

/// <summary>
/// The messages a <see cref="SessionAdminActor"/> answers. Each request is carried through the running
/// pipeline, in order with the data in flight; a failed request is answered with
/// <see cref="Akka.Actor.Status.Failure"/>. Messages hold plain data, so they can cross a network later
/// (remote administration, sharded sessions).
/// </summary>
public static class SessionAdminProtocol
{
    /// <summary>Every request of this protocol: what a pipeline's owner forwards to its sessions.</summary>
    public interface IRequest;

    /// <summary>Zero the key's state in every layer and keep it live. Answer: <see cref="KeyCommandResult"/>.</summary>
    public sealed record ResetKey(string Key) : IRequest;

    /// <summary>Discard the key's state; its next step starts from zero. Answer: <see cref="KeyCommandResult"/>.</summary>
    public sealed record DropKey(string Key) : IRequest;

    /// <summary>Read the key's state (and drop it when <paramref name="Remove"/>). Answer: <see cref="ExportedKey"/>.</summary>
    public sealed record ExportKey(string Key, bool Remove = false) : IRequest;

    /// <summary>Put a key's state back (a state of another model is refused). Answer: <see cref="ImportedKey"/>.</summary>
    public sealed record ImportKey(KeyState State) : IRequest;

    /// <summary>The session counters at this point of the stream. Answer: <see cref="SessionCounts"/>.</summary>
    public sealed record GetCounts : IRequest
    {
        public static GetCounts Instance { get; } = new();
    }

    /// <summary><paramref name="WasLive"/>: the key had state when the command reached the pipeline.</summary>
    public sealed record KeyCommandResult(string Key, bool WasLive);

    /// <summary><paramref name="State"/> is null when the key was not live.</summary>
    public sealed record ExportedKey(string Key, KeyState? State);

    public sealed record ImportedKey(string Key);
}
