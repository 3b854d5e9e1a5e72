using System.CommandLine;
using LstmStream.Hosting.Simulation;

namespace LstmStream.Hosting.Cli;

/// <summary><c>lstmstream simulate</c>: synthetic sensor NDJSON for demos, load tests and benchmarks.</summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var keys = new Option<int>("--keys") { Description = "Number of sensors", DefaultValueFactory = _ => 16 };
        var features = new Option<int>("--features") { Description = "Readings per vector (the model's input size)", DefaultValueFactory = _ => 4 };
        var count = new Option<long>("--count") { Description = "Records to write in all (0 = until stopped)", DefaultValueFactory = _ => 1000 };
        var rate = new Option<double>("--rate") { Description = "Records per second over all sensors (0 = as fast as possible)", DefaultValueFactory = _ => 0 };
        var spikes = new Option<double>("--spike-probability") { Description = "Chance that a reading carries a spike", DefaultValueFactory = _ => 0.01 };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 7 };
        var output = new Option<string>("--output", "-o") { Description = "File to write, or - for stdout", DefaultValueFactory = _ => "-" };
        var command = new Command("simulate", "Write synthetic sensor NDJSON (many keys, sine + noise + occasional spikes)")
        {
            keys, features, count, rate, spikes, seed, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new SensorSimulatorSettings
            {
                Keys = parse.GetValue(keys),
                Features = parse.GetValue(features),
                Count = parse.GetValue(count),
                Rate = parse.GetValue(rate),
                SpikeProbability = parse.GetValue(spikes),
                Seed = parse.GetValue(seed),
            };
            var simulator = new SensorSimulator(settings);
            var path = parse.GetValue(output) ?? "-";
            await using var stream = path == "-" ? Console.OpenStandardOutput() : File.Create(path);
            try
            {
                await simulator.WriteAsync(stream, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }

            return 0;
        });
        return command;
    }
}
