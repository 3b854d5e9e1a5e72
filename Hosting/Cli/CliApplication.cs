using System.CommandLine;

namespace LstmStream.Hosting.Cli;

/// <summary>The <c>lstmstream</c> command line: one verb per file in this folder.</summary>
public static class CliApplication
{
    /// <summary>Exit code when the command line or a model/setting is wrong.</summary>
    public const int UsageError = 2;

    public static RootCommand Build()
    {
        var root = new RootCommand("LstmStream: trained stacked-LSTM models over live keyed streams")
        {
            ServeCommand.Create(),
            RunCommand.Create(),
            InspectCommand.Create(),
            ExportCommand.Create(),
            SimulateCommand.Create(),
            DemoModelCommand.Create(),
        };
        foreach (var command in root.Subcommands) Guard(command);
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given writers (defaults: the console).</summary>
    public static Task<int> InvokeAsync(string[] args, TextWriter? output = null, TextWriter? error = null,
        CancellationToken cancellationToken = default)
    {
        // serve is the default verb: no verb (or only options) means serve.
        if (args.Length == 0 || (args[0].StartsWith('-') && args[0] is not ("-h" or "--help" or "-?" or "--version")))
            args = ["serve", .. args];
        var configuration = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
            EnableDefaultExceptionHandler = false,
        };
        // serve's host handles SIGTERM / Ctrl-C itself (graceful drain within its own deadline).
        if (args[0] == "serve") configuration.ProcessTerminationTimeout = null;
        return Build().Parse(args).InvokeAsync(configuration, cancellationToken);
    }

    /// <summary>
    /// Turns the expected failures of a verb (a bad model file, a bad setting, a missing file) into one
    /// clear line on stderr and <see cref="UsageError"/>, instead of a stack trace.
    /// </summary>
    private static void Guard(Command command)
    {
        if (command.Action is not System.CommandLine.Invocation.AsynchronousCommandLineAction and not System.CommandLine.Invocation.SynchronousCommandLineAction)
            return;
        var inner = command.Action;
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                return inner switch
                {
                    System.CommandLine.Invocation.AsynchronousCommandLineAction a => await a.InvokeAsync(parse, cancellationToken).ConfigureAwait(false),
                    System.CommandLine.Invocation.SynchronousCommandLineAction s => s.Invoke(parse),
                    _ => throw new InvalidOperationException("unreachable"),
                };
            }
            catch (Exception e) when (e is Pipeline.Models.ModelFormatException or Pipeline.Numerics.Native.MatMulBackendUnavailableException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException or InvalidDataException)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"lstmstream {command.Name}: {e.Message}").ConfigureAwait(false);
                return UsageError;
            }
        });
    }
}
