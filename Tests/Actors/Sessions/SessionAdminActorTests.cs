using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Actors.Sessions;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Actors.Sessions.SessionAdminProtocol;

namespace LstmStream.Tests.Actors.Sessions;

public sealed class SessionAdminActorTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly LstmModel _model = RandomModel.Create(3, [4, 2], seed: 5);

    [Fact]
    public async Task Reset_drop_export_import_and_counts_go_through_the_running_pipeline()
    {
        var (queue, handle, outputs) = Start();
        await Step(queue, outputs, "a", 1);
        await Step(queue, outputs, "b", 2);
        var admin = Sys.ActorOf(SessionAdminActor.Props(handle.State));

        var exported = await admin.Ask<ExportedKey>(new ExportKey("a"), Timeout);
        Assert.NotNull(exported.State);
        Assert.Contains(exported.State.H[0], v => v != 0f);

        Assert.Equal(new KeyCommandResult("a", true), await admin.Ask<KeyCommandResult>(new ResetKey("a"), Timeout));
        var afterReset = await admin.Ask<ExportedKey>(new ExportKey("a"), Timeout);
        Assert.All(afterReset.State!.C.Concat(afterReset.State.H), row => Assert.All(row, v => Assert.Equal(0f, v)));

        Assert.Equal(new ImportedKey("a"), await admin.Ask<ImportedKey>(new ImportKey(exported.State), Timeout));
        var afterImport = await admin.Ask<ExportedKey>(new ExportKey("a"), Timeout);
        Assert.Equal(exported.State.H[1], afterImport.State!.H[1]);

        Assert.Equal(new KeyCommandResult("ghost", false), await admin.Ask<KeyCommandResult>(new DropKey("ghost"), Timeout));
        Assert.Equal(new KeyCommandResult("b", true), await admin.Ask<KeyCommandResult>(new DropKey("b"), Timeout));
        var counts = await admin.Ask<SessionCounts>(GetCounts.Instance, Timeout);
        Assert.Equal(1, counts.LiveKeys);
        Assert.Equal(1, counts.KeysEnded);
        queue.Complete();
    }

    [Fact]
    public async Task A_state_of_another_model_is_answered_with_a_failure()
    {
        var (queue, handle, _) = Start();
        var admin = Sys.ActorOf(SessionAdminActor.Props(handle.State));
        var foreign = new KeyState("0123456789abcdef", "a", [new float[4], new float[2]], [new float[4], new float[2]]);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => admin.Ask<ImportedKey>(new ImportKey(foreign), Timeout));

        Assert.Contains("0123456789abcdef", error.Message);
        queue.Complete();
    }

    private (ISourceQueueWithComplete<StepBatch> Queue, LstmPipelineHandle Handle, System.Threading.Channels.Channel<float[]> Outputs) Start()
    {
        var outputs = System.Threading.Channels.Channel.CreateUnbounded<float[]>();
        var pipeline = LstmPipeline.Create(_model, () => new ManagedMatMul(), new PipelineOptions { MaxBatchRows = 8 });
        var (queue, handle) = Source.Queue<StepBatch>(16, OverflowStrategy.Backpressure)
            .ViaMaterialized(pipeline, Keep.Both)
            .To(Sink.ForEach<StepBatch>(batch =>
            {
                for (var r = 0; r < batch.Count; r++) outputs.Writer.TryWrite(batch.Row(r).ToArray());
                batch.Release();
            }))
            .Run(Sys.Materializer());
        return (queue, handle, outputs);
    }

    private async Task Step(ISourceQueueWithComplete<StepBatch> queue, System.Threading.Channels.Channel<float[]> outputs, string key, long tag)
    {
        var batch = StepBatch.Rent(1, _model.InputSize);
        var row = batch.Add(key, 0, StepFlags.None, tag);
        batch.Row(row).Fill(0.5f);
        Assert.IsType<QueueOfferResult.Enqueued>(await queue.OfferAsync(batch));
        await outputs.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
    }
}
