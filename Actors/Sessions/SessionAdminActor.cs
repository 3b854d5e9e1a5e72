using Akka.Actor;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Actors.Sessions.SessionAdminProtocol;

namespace LstmStream.Actors.Sessions;

/// <summary>
/// The address of a running pipeline's sessions: admin paths (HTTP, TCP control, later cluster peers) send
/// it <see cref="SessionAdminProtocol"/> messages instead of holding the pipeline. It forwards each request
/// to the pipeline's in-stream control path and pipes the answer back to the sender, never blocking.
/// </summary>
public sealed class SessionAdminActor : ReceiveActor
{
    public SessionAdminActor(PipelineStateAccess state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Receive<ResetKey>(m => state.ResetAsync(m.Key).PipeTo(Sender, success: live => new KeyCommandResult(m.Key, live), failure: Failure));
        Receive<DropKey>(m => state.DropAsync(m.Key).PipeTo(Sender, success: live => new KeyCommandResult(m.Key, live), failure: Failure));
        Receive<ExportKey>(m => state.ExportAsync(m.Key, m.Remove).PipeTo(Sender, success: s => new ExportedKey(m.Key, s), failure: Failure));
        Receive<ImportKey>(m => state.ImportAsync(m.State).ContinueWith<object>(
            t => t.IsCompletedSuccessfully ? new ImportedKey(m.State.Key) : Failure(t.Exception?.GetBaseException() ?? new TaskCanceledException()),
            TaskScheduler.Default).PipeTo(Sender));
        Receive<GetCounts>(_ => state.CountsAsync().PipeTo(Sender, failure: Failure));
    }

    public static Props Props(PipelineStateAccess state) => Akka.Actor.Props.Create(() => new SessionAdminActor(state));

    private static Status.Failure Failure(Exception e) => new(e);
}
