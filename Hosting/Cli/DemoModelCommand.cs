using System.CommandLine;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;

namespace LstmStream.Hosting.Cli;

/// <summary>
/// <c>lstmstream demo-model --out models/demo.onnx</c>: the recipe of the demo model shipped in the
/// repository — a seeded random sensor model (4 readings → LSTM 32 → LSTM 32 → dense 1, sigmoid).
/// </summary>
internal static class DemoModelCommand
{
    public const int Inputs = 4;
    public static readonly int[] Cells = [32, 32];

    public static Command Create()
    {
        var output = new Option<FileInfo>("--out", "-o") { Description = "ONNX file to write", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed of the weights", DefaultValueFactory = _ => 2026 };
        var command = new Command("demo-model", "Write the small demo model (4 → LSTM 32 → LSTM 32 → dense 1 sigmoid, seeded random weights) as ONNX");
        command.Add(output);
        command.Add(seed);
        command.SetAction(parse =>
        {
            var model = RandomModel.Create(Inputs, Cells, headOutputs: 1, HeadActivation.Sigmoid, parse.GetValue(seed), source: "demo");
            var target = parse.GetRequiredValue(output);
            target.Directory?.Create();
            OnnxModelWriter.Write(model, target.FullName);
            parse.InvocationConfiguration.Output.WriteLine($"wrote {target.FullName}: {ModelDescription.OneLine(model)}");
            return 0;
        });
        return command;
    }
}
