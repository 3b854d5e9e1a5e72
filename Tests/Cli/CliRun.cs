using LstmStream.Hosting.Cli;

namespace LstmStream.Tests.Cli;

/// <summary>Runs <c>lstmstream</c> in-process and keeps what it printed.</summary>
public sealed record CliRun(int ExitCode, string Output, string Error)
{
    public static async Task<CliRun> InvokeAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await CliApplication.InvokeAsync(args, output, error);
        return new CliRun(exit, output.ToString(), error.ToString());
    }
}
