using System.CommandLine;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;

namespace LstmStream.Hosting.Cli;

/// <summary><c>lstmstream export --model FILE --out model.onnx</c>: any loaded model as an ONNX graph.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var output = new Option<FileInfo>("--out", "-o") { Description = "ONNX file to write", Required = true };
        var stateIo = new Option<bool>("--state-io")
        {
            Description = "Also expose every layer's initial_h/initial_c as graph inputs and Y_h/Y_c as outputs (for stepping the model one step at a time)",
        };
        var command = new Command("export", "Write a loaded model as an ONNX graph (LSTM chain + head) that ONNX Runtime runs with the same outputs");
        model.AddTo(command);
        command.Add(output);
        command.Add(stateIo);
        command.SetAction(parse =>
        {
            var loaded = model.Load(parse);
            var target = parse.GetRequiredValue(output);
            OnnxModelWriter.Write(loaded, target.FullName, new OnnxExportOptions { StateInputsOutputs = parse.GetValue(stateIo) });
            parse.InvocationConfiguration.Output.WriteLine($"wrote {target.FullName}: {ModelDescription.OneLine(loaded)}");
            return 0;
        });
        return command;
    }
}
