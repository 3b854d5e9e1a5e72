using System.CommandLine;
using LstmStream.Hosting.Options;
using LstmStream.Hosting.Simulation;

namespace LstmStream.Hosting.Cli;

/// <summary>
/// <c>lstmstream simulate</c>: synthetic sensor NDJSON for demos, load tests and benchmarks; with <c>--connect</c> it sends
/// the records to a running service itself and writes the answers (<see cref="ReplayingTcpClient"/>; <c>--resend</c>: keep
/// records until committed, reconnect and resend after a disconnect).
/// </summary>
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
        var output = new Option<string>("--output", "-o")
        {
            Description = "File to write, or - for stdout (with --connect: the service's answers)", DefaultValueFactory = _ => "-",
        };
        var firstSeq = new Option<long>("--first-seq") { Description = "seq of every sensor's first reading", DefaultValueFactory = _ => 0 };
        var connect = new Option<string?>("--connect") { Description = "Send the records to the service's TCP endpoint HOST:PORT and write its answers" };
        var resend = new Option<bool>("--resend")
        {
            Description = "With --connect: keep every record until a commit record covers it; after a disconnect reconnect and resend the rest",
        };
        var retryFor = new Option<double>("--retry-for") { Description = "With --connect: seconds to keep trying to (re)connect", DefaultValueFactory = _ => 60 };
        var maxUncommitted = new Option<int>("--max-uncommitted")
        {
            Description = "With --resend: the most records waiting for a commit record before sending pauses", DefaultValueFactory = _ => 100_000,
        };
        var commitWait = new Option<double>("--commit-wait")
        {
            Description = "With --resend: seconds without any commit record, while records wait for one, before giving up", DefaultValueFactory = _ => 60,
        };
        connect.Validators.Add(result =>
        {
            if (!HostPort.TryParse(result.GetValueOrDefault<string?>(), out _, out var reason)) result.AddError($"--connect {reason}");
        });
        retryFor.Validators.Add(result =>
        {
            if (!(result.GetValueOrDefault<double>() >= 0)) result.AddError($"--retry-for must be a number of seconds, 0 or more (was {result.GetValueOrDefault<double>()})");
        });
        commitWait.Validators.Add(result =>
        {
            if (!(result.GetValueOrDefault<double>() > 0)) result.AddError($"--commit-wait must be a number of seconds above 0 (was {result.GetValueOrDefault<double>()})");
        });
        maxUncommitted.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() <= 0) result.AddError($"--max-uncommitted must be positive (was {result.GetValueOrDefault<int>()})");
        });
        var command = new Command("simulate", "Write synthetic sensor NDJSON (many keys, sine + noise + occasional spikes), or send it to a service (--connect)")
        {
            keys, features, count, rate, spikes, seed, output, firstSeq, connect, resend, retryFor, maxUncommitted, commitWait,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(connect) is not null) return;
            foreach (var needsConnect in new Option[] { resend, retryFor, maxUncommitted, commitWait })
            {
                if (result.GetResult(needsConnect) is { Implicit: false }) result.AddError($"{needsConnect.Name} needs --connect HOST:PORT (it is about sending to a service)");
            }
        });
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
                FirstSeq = parse.GetValue(firstSeq),
            };
            var simulator = new SensorSimulator(settings);
            var path = parse.GetValue(output) ?? "-";
            // Others may read the file while it is written (follow a long run's answers).
            await using var stream = path == "-" ? Console.OpenStandardOutput() : new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
            try
            {
                if (parse.GetValue(connect) is { } endpoint)
                {
                    var client = new ReplayingTcpClient(simulator, settings, new ReplayingTcpClientSettings
                    {
                        Endpoint = HostPort.Parse(endpoint),
                        Resend = parse.GetValue(resend),
                        RetryFor = TimeSpan.FromSeconds(parse.GetValue(retryFor)),
                        MaxUncommitted = parse.GetValue(maxUncommitted),
                        CommitWait = TimeSpan.FromSeconds(parse.GetValue(commitWait)),
                    }, stream, parse.InvocationConfiguration.Error);
                    try
                    {
                        await client.RunAsync(cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        await parse.InvocationConfiguration.Error.WriteLineAsync(
                            $"simulate: {client.Sent} record(s) sent, {client.Resent} resent after {client.Reconnects} reconnect(s); " +
                            $"{client.Answers} answer(s) ({client.Duplicates} duplicate), {client.Commits} commit record(s), {client.Errors} error record(s)").ConfigureAwait(false);
                    }
                }
                else await simulator.WriteAsync(stream, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }

            return 0;
        });
        return command;
    }
}
