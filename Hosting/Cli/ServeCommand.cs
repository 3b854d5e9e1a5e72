using System.CommandLine;
using LstmStream.Hosting.Service;

namespace LstmStream.Hosting.Cli;

/// <summary>
/// <c>lstmstream serve [--model FILE] [--tcp HOST:PORT] [--metrics HOST:PORT] [--no-simulator] [--Section:Key=value …]</c>:
/// the long-running worker service (the default verb). The flags are shorthands for settings; any other
/// <c>--LstmStream:…=value</c> token overrides that setting (see <c>Options/ServiceOptions</c>).
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model file (LstmStream:Model:Path; default models/demo.onnx)" };
        var tcp = new Option<string>("--tcp") { Description = "NDJSON TCP listener HOST:PORT (LstmStream:Tcp:Endpoint; default 127.0.0.1:7878)" };
        var metrics = new Option<string>("--metrics") { Description = "Metrics/health/admin HTTP HOST:PORT, loopback only (LstmStream:Http:Endpoint; default 127.0.0.1:9464)" };
        var noSimulator = new Option<bool>("--no-simulator") { Description = "Turn the SIMULATED sensor source off (LstmStream:Simulator:Enabled=false)" };
        var command = new Command("serve", "Run the worker service: TCP NDJSON, stdin/stdout and simulated ingress into one pipeline, Prometheus metrics, admin, graceful shutdown")
        {
            model, tcp, metrics, noSimulator,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new List<string>();
            if (parse.GetValue(model) is { } m) overrides.Add($"--LstmStream:Model:Path={m}");
            if (parse.GetValue(tcp) is { } t) overrides.AddRange(["--LstmStream:Tcp:Enabled=true", $"--LstmStream:Tcp:Endpoint={t}"]);
            if (parse.GetValue(metrics) is { } h) overrides.AddRange(["--LstmStream:Http:Enabled=true", $"--LstmStream:Http:Endpoint={h}"]);
            if (parse.GetValue(noSimulator)) overrides.Add("--LstmStream:Simulator:Enabled=false");
            // Later sources win: explicit --Section:Key overrides come after the flags.
            overrides.AddRange(parse.UnmatchedTokens);
            return await ServiceRunner.RunAsync([.. overrides], parse.InvocationConfiguration.Error, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}
