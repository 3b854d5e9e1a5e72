using System.CommandLine;
using Akka;
using Akka.Actor;
using Akka.Streams.Dsl;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Cli;

/// <summary>
/// <c>lstmstream run --model FILE [--input FILE|-] [--output FILE|-]</c>: NDJSON records through the
/// streaming pipeline, the batch path. Bad lines go to stderr as error records; the exit status is 1 when
/// any line was rejected. A progress line goes to stderr too (<see cref="RunProgress"/>; <c>--quiet</c> turns it off).
/// With <c>--state FILE</c> the keys' state is carried from one run to the next (<see cref="RunStateFile"/>).
/// </summary>
internal static class RunCommand
{
    /// <summary>Exit code when every valid line was processed but some lines were rejected.</summary>
    public const int LinesRejected = 1;

    public static Command Create()
    {
        var model = new ModelOptions();
        var input = new Option<string>("--input", "-i") { Description = "NDJSON input file, or - for stdin", DefaultValueFactory = _ => "-" };
        var output = new Option<string>("--output", "-o") { Description = "NDJSON output file, or - for stdout", DefaultValueFactory = _ => "-" };
        var batchRows = new Option<int>("--batch-rows") { Description = "Most rows (keys) stepped in one matrix multiply", DefaultValueFactory = _ => 1024 };
        var batchDelay = new Option<double>("--batch-delay-ms") { Description = "Longest wait for a micro-batch to fill while the model is idle, in milliseconds (0: none, batches form on demand)", DefaultValueFactory = _ => 0 };
        var asyncLayers = new Option<bool>("--async-layers") { Description = "Run each layer on its own thread (pipelining across cores)" };
        var backend = new Option<string>("--backend")
        {
            Description = "Matrix-multiply backend: auto (timed per layer shape at load), managed, mkl, openblas or onednn",
            DefaultValueFactory = _ => MatMulBackendRegistry.Auto,
        };
        backend.AcceptOnlyFromAmong([.. MatMulBackendRegistry.Names]);
        var threads = new Option<int>("--threads") { Description = "Threads per matrix multiply", DefaultValueFactory = _ => 1 };
        var maxLineBytes = new Option<int>("--max-line-bytes")
        {
            Description = "Longest accepted input line in bytes; a longer one is rejected and skipped",
            DefaultValueFactory = _ => NdjsonBatchDecoder.DefaultMaxLineBytes,
        };
        var maxKeyBytes = new Option<int>("--max-key-bytes")
        {
            Description = "Longest accepted key in UTF-8 bytes; a record with a longer one is rejected",
            DefaultValueFactory = _ => NdjsonRecordParser.DefaultMaxKeyBytes,
        };
        foreach (var limit in new[] { maxLineBytes, maxKeyBytes })
        {
            limit.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<int>() <= 0)
                    result.AddError($"{limit.Name} must be a positive number of bytes, got {result.GetValueOrDefault<int>()}");
            });
        }

        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress line on stderr" };
        var progressInterval = new Option<double?>("--progress-interval")
        {
            Description = "Seconds between progress reports on stderr (default 0.5, updated in place, on a terminal; 5, one line each, otherwise)",
        };
        progressInterval.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is { } seconds && !(seconds > 0))
                result.AddError($"--progress-interval must be a number of seconds above 0 (was {seconds})");
        });
        var state = new Option<string?>("--state")
        {
            Description = "Session store (a SQLite file, created on first use; serve's store works too): the keys met are loaded from it " +
                          "and every key's state is saved to it at the end, so consecutive runs score as one continuous stream",
        };
        var stateBuckets = new Option<int>(RunStateFile.BucketsOption)
        {
            Description = "Buckets the --state store's keys fall into; fixed when the store is created (serve's Sessions:Buckets)",
            DefaultValueFactory = _ => 256,
        };
        stateBuckets.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() <= 0) result.AddError($"{RunStateFile.BucketsOption} must be a positive number, got {result.GetValueOrDefault<int>()}");
        });
        var command = new Command("run", "Stream NDJSON records through a model: {\"key\",\"seq\",\"x\",\"reset\",\"end\"} in, {\"key\",\"seq\",\"y\"} out");
        model.AddTo(command);
        command.Add(input);
        command.Add(output);
        command.Add(batchRows);
        command.Add(batchDelay);
        command.Add(asyncLayers);
        command.Add(backend);
        command.Add(threads);
        command.Add(maxLineBytes);
        command.Add(maxKeyBytes);
        command.Add(quiet);
        command.Add(progressInterval);
        command.Add(state);
        command.Add(stateBuckets);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var stateLocation = parse.GetValue(state) is { } stateValue ? RunStateFile.Parse(stateValue) : null;
            var configuration = Akka.Configuration.ConfigurationFactory.ParseString(StandardErrorLogger.Configuration());
            if (stateLocation is not null) configuration = configuration.WithFallback(RunStateFile.ConfigFor(stateLocation));
            // Starting the actor system takes about as long as loading the model and timing the backends: it
            // starts on another thread meanwhile.
            var starting = Task.Run(() => ActorSystem.Create("lstmstream-run", configuration), CancellationToken.None);
            try
            {
                var loaded = model.Load(parse);
                var stateFile = stateLocation is null
                    ? null
                    : await RunStateFile.OpenAsync(await starting.ConfigureAwait(false), stateLocation, parse.GetValue(stateBuckets), cancellationToken)
                        .ConfigureAwait(false);
                var options = new PipelineOptions
                {
                    MaxBatchRows = parse.GetValue(batchRows),
                    MaxBatchDelay = TimeSpan.FromMilliseconds(parse.GetValue(batchDelay)),
                    AsyncLayers = parse.GetValue(asyncLayers),
                    SessionStore = stateFile?.Store,
                };
                options.Validate();
                var backends = MatMulBackendRegistry.CreateForModel(parse.GetValue(backend)!, parse.GetValue(threads), loaded);
                SessionCounters? sessions = null;
                var access = new TaskCompletionSource<PipelineStateAccess>(TaskCreationOptions.RunContinuationsAsynchronously);
                var pipeline = LstmPipeline.Create(loaded, backends, options).MapMaterializedValue(handle =>
                {
                    Volatile.Write(ref sessions, handle.Sessions);
                    access.TrySetResult(handle.State);
                    return NotUsed.Instance;
                });
                // With --state the input is followed by the save of every changed key, taken through the pipeline before it completes.
                var flow = stateFile is null ? pipeline : stateFile.SaveAtEnd(access.Task).Via(pipeline);

                var inputPath = parse.GetValue(input) ?? "-";
                var outputPath = parse.GetValue(output) ?? "-";
                await using var inputStream = new LineCountingStream(inputPath == "-" ? Console.OpenStandardInput() : File.OpenRead(inputPath));
                await using var outputStream = outputPath == "-" ? Console.OpenStandardOutput() : File.Create(outputPath);
                var system = await starting.ConfigureAwait(false);
                await using var progress = RunProgress.ForCommandLine(parse.InvocationConfiguration.Error, parse.GetValue(quiet),
                    parse.GetValue(progressInterval), () => inputStream.Lines, () => Volatile.Read(ref sessions)?.LiveKeys ?? 0);
                var errors = progress?.Errors ?? parse.InvocationConfiguration.Error;
                var limits = new NdjsonRunnerOptions { MaxLineBytes = parse.GetValue(maxLineBytes), MaxKeyBytes = parse.GetValue(maxKeyBytes) };
                NdjsonRunSummary summary;
                try
                {
                    summary = await new NdjsonRunner(loaded.InputSize, limits)
                        .RunAsync(inputStream, outputStream, errors, flow, system, cancellationToken).ConfigureAwait(false);
                }
                catch (SessionStoreException e)
                {
                    throw new IOException($"--state {stateFile!.Location.Description}: the keys' state could not be saved: {e.Message}", e);
                }

                progress?.Finish(summary.LinesRead);
                if (stateFile is not null) await errors.WriteLineAsync(stateFile.Summary(Volatile.Read(ref sessions)!.Snapshot())).ConfigureAwait(false);
                return summary.AnyRejected ? LinesRejected : 0;
            }
            finally
            {
                using var system = await starting.ConfigureAwait(false);
                await system.Terminate().ConfigureAwait(false);
            }
        });
        return command;
    }
}
