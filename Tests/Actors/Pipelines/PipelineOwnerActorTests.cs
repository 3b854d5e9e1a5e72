using System.Threading.Channels;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Actors.Pipelines;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Actors.Pipelines.PipelineOwnerProtocol;
using static LstmStream.Actors.Sessions.SessionAdminProtocol;

namespace LstmStream.Tests.Actors.Pipelines;

public sealed class PipelineOwnerActorTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly LstmModel _model = RandomModel.Create(3, [4, 2], seed: 11);
    private readonly Channel<StepBatch> _input = Channel.CreateUnbounded<StepBatch>();
    private readonly Channel<float[]> _outputs = Channel.CreateUnbounded<float[]>();

    [Fact]
    public async Task Session_requests_before_the_start_are_refused_as_not_running()
    {
        var owner = Sys.ActorOf(PipelineOwnerActor.Props());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => owner.Ask<SessionCounts>(GetCounts.Instance, Timeout));

        Assert.Contains("has not started", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_owner_materializes_the_graph_and_forwards_session_requests_to_the_running_pipeline()
    {
        var owner = Sys.ActorOf(PipelineOwnerActor.Props());
        var started = await owner.Ask<PipelineStarted>(new StartPipeline(Graph()), Timeout);
        await StepAsync("a");
        await StepAsync("b");

        Assert.Equal(new KeyCommandResult("a", true), await owner.Ask<KeyCommandResult>(new DropKey("a"), Timeout));
        var counts = await owner.Ask<SessionCounts>(GetCounts.Instance, Timeout);
        Assert.Equal(1, counts.LiveKeys);
        Assert.Equal(2, counts.KeysCreated);
        Assert.Equal(1, counts.KeysEnded);
        Assert.Equal(counts.LiveKeys, started.Handle.Sessions.LiveKeys);

        var second = await Assert.ThrowsAsync<InvalidOperationException>(() => owner.Ask<PipelineStarted>(new StartPipeline(Graph()), Timeout));
        Assert.Contains("already running", second.Message, StringComparison.Ordinal);
        _input.Writer.Complete();
        await started.Completion.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Once_the_pipeline_has_completed_requests_are_refused()
    {
        var owner = Sys.ActorOf(PipelineOwnerActor.Props());
        var started = await owner.Ask<PipelineStarted>(new StartPipeline(Graph()), Timeout);
        _input.Writer.Complete();
        await started.Completion.WaitAsync(Timeout);

        // The owner learns of the completion through its mailbox: wait until it has.
        await AwaitAssertAsync(async () =>
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => owner.Ask<KeyCommandResult>(new ResetKey("a"), Timeout));
            Assert.Contains("has stopped", error.Message, StringComparison.Ordinal);
        }, Timeout);
    }

    [Fact]
    public async Task The_pipeline_lives_and_dies_with_its_owner()
    {
        var owner = Sys.ActorOf(PipelineOwnerActor.Props());
        var started = await owner.Ask<PipelineStarted>(new StartPipeline(Graph()), Timeout);
        await StepAsync("a");

        Watch(owner);
        owner.Tell(PoisonPill.Instance);
        ExpectTerminated(owner, Timeout);

        // Its input is still open, so only the owner's end can have stopped it.
        await Assert.ThrowsAnyAsync<Exception>(() => started.Completion.WaitAsync(Timeout));
    }

    /// <summary>input channel → LstmPipeline → outputs, as the service's hub builds it.</summary>
    private IRunnableGraph<(LstmPipelineHandle Handle, Task Completion)> Graph() =>
        ChannelSource.FromReader(_input.Reader)
            .ViaMaterialized(LstmPipeline.Create(_model, () => new ManagedMatMul(), new PipelineOptions { MaxBatchRows = 8 }), Keep.Right)
            .ToMaterialized(Sink.ForEach<StepBatch>(batch =>
            {
                for (var r = 0; r < batch.Count; r++) _outputs.Writer.TryWrite(batch.Row(r).ToArray());
                batch.Release();
            }), (handle, done) => (handle, (Task)done));

    private async Task StepAsync(string key)
    {
        var batch = StepBatch.Rent(1, _model.InputSize);
        var row = batch.Add(key, 0, StepFlags.None, 0);
        batch.Row(row).Fill(0.5f);
        await _input.Writer.WriteAsync(batch);
        await _outputs.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
    }
}
