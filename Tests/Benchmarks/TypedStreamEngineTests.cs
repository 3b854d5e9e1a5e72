using Akka.Streams;
using LstmStream.Benchmarks;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Tests.Benchmarks;

public sealed class TypedStreamEngineTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    public TypedStreamEngineTests() => _materializer = Sys.Materializer();

    private TypedStreamEngine Engine(int keys)
    {
        var model = RandomModel.Create(6, [4, 5], seed: 7);
        var backends = MatMulBackendRegistry.CreateForModel(MatMulBackendRegistry.Managed, 1, model);
        return new TypedStreamEngine(model, backends, new InputRounds(keys, model.InputSize), _materializer);
    }

    [Fact]
    public void The_typed_floor_counts_one_output_per_step_of_every_round()
    {
        var engine = Engine(keys: 16);
        long made;
        using (var floor = engine.StartFloor())
        {
            made = floor.Run(5);
            Assert.True(floor.Produced >= 5 * 16, $"{floor.Produced} outputs after 5 rounds of 16 keys");
        }

        Assert.Equal(5 * 16, made);
    }

    [Fact]
    public void The_batched_row_gives_the_per_record_flows_outputs_and_counts_every_step_of_its_batches()
    {
        var engine = Engine(keys: 300);
        Assert.Equal(engine.RunCollectingLastRound(4), engine.RunBatchedCollectingLastRound(4));
        using var running = engine.StartBatched();
        Assert.True(running.Run(7) >= 7 * 300);
    }

    [Fact]
    public void The_floor_is_an_engine_the_benchmark_can_be_told_to_measure()
    {
        var options = BenchmarkOptions.Parse(["--engine", "lstmstream-stream,lstmstream-typed,lstmstream-typed-batched,lstmstream-typed-floor"]);

        Assert.True(options.Measures(Engines.TypedFloor));
        Assert.True(options.Measures(Engines.TypedBatched));
        Assert.False(options.Measures(Engines.Core));
    }
}
