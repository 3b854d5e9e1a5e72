using Akka.Actor;
using Akka.Streams;
using LstmStream.Actors.Sessions;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Actors.Pipelines.PipelineOwnerProtocol;

namespace LstmStream.Actors.Pipelines;

/// <summary>
/// Owns one running pipeline: materializes it (<see cref="StartPipeline"/>) on a materializer of its own, so the
/// stream lives and dies with this actor, creates the pipeline's <see cref="SessionAdminActor"/> as its child
/// and forwards every <see cref="SessionAdminProtocol.IRequest"/> to it. Before the start and after the
/// pipeline has stopped, requests are answered with a <see cref="Status.Failure"/> carrying an
/// <see cref="InvalidOperationException"/>.
/// <para>
/// The service registers one owner with Akka.Hosting (<c>WithActors</c>) and reaches it as
/// <c>IRequiredActor&lt;PipelineOwnerActor&gt;</c>. Durable sessions and sharding add owners (one per bucket
/// or shard of keys), each with its own pipeline.
/// </para>
/// </summary>
public sealed class PipelineOwnerActor : ReceiveActor
{
    private IActorRef _sessions = ActorRefs.Nobody;

    public PipelineOwnerActor() => NotStarted();

    public static Props Props() => Akka.Actor.Props.Create(() => new PipelineOwnerActor());

    private void NotStarted()
    {
        Receive<StartPipeline>(Start);
        Receive<SessionAdminProtocol.IRequest>(_ => Refuse("the pipeline has not started"));
    }

    private void Running()
    {
        Receive<StartPipeline>(_ => Refuse("a pipeline is already running"));
        Receive<SessionAdminProtocol.IRequest>(request => _sessions.Forward(request));
        Receive<PipelineStopped>(_ =>
        {
            Context.Stop(_sessions);
            _sessions = ActorRefs.Nobody;
            Become(Stopped);
        });
    }

    private void Stopped()
    {
        Receive<StartPipeline>(_ => Refuse("the pipeline has stopped; an owner runs one pipeline"));
        Receive<SessionAdminProtocol.IRequest>(_ => Refuse("the pipeline has stopped"));
    }

    private void Start(StartPipeline start)
    {
        (LstmPipelineHandle Handle, Task Completion) run;
        try
        {
            run = start.Graph.Run(Context.Materializer(namePrefix: "pipeline"));
        }
        catch (Exception e)
        {
            Sender.Tell(new Status.Failure(e));
            return;
        }

        _sessions = Context.ActorOf(SessionAdminActor.Props(run.Handle.State), "sessions");
        run.Completion.ContinueWith(t => new PipelineStopped(t.Exception?.GetBaseException()), TaskScheduler.Default).PipeTo(Self);
        Sender.Tell(new PipelineStarted(run.Handle, run.Completion));
        Become(Running);
    }

    private void Refuse(string reason) => Sender.Tell(new Status.Failure(new InvalidOperationException(reason)));
}
