using System.CommandLine;
using LstmStream.Pipeline.Models;

namespace LstmStream.Hosting.Cli;

/// <summary><c>lstmstream inspect --model FILE</c>: layers, sizes, features and parameter count.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var command = new Command("inspect", "Print a model's layers (input size, hidden sizes, peepholes, projection, head) and parameter count");
        model.AddTo(command);
        command.SetAction(parse =>
        {
            var loaded = model.Load(parse);
            parse.InvocationConfiguration.Output.Write(ModelDescription.Table(loaded));
            return 0;
        });
        return command;
    }
}
