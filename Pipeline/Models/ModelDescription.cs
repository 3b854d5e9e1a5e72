using System.Globalization;
using System.Text;

namespace LstmStream.Pipeline.Models;

/// <summary>The human-readable summary of a model that <c>inspect</c> prints and the start-up log names.</summary>
public static class ModelDescription
{
    /// <summary>One line: "6 → lstm 4 → lstm 5 → dense 1 (sigmoid)".</summary>
    public static string OneLine(LstmModel model)
    {
        var sb = new StringBuilder().Append(model.InputSize);
        foreach (var layer in model.Layers)
        {
            sb.Append(" → lstm ").Append(layer.CellSize);
            if (layer.HasProjection) sb.Append("/proj ").Append(layer.OutputSize);
        }

        if (model.Head is { } head)
        {
            sb.Append(" → dense ").Append(head.OutputSize);
            if (head.Activation != HeadActivation.None) sb.Append(" (").Append(head.Activation.ToString().ToLowerInvariant()).Append(')');
        }

        return sb.ToString();
    }

    /// <summary>The multi-line table of <c>lstmstream inspect</c>.</summary>
    public static string Table(LstmModel model)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"model:      {model.Source}");
        sb.AppendLine(inv, $"identity:   {model.Identity}");
        sb.AppendLine(inv, $"shape:      {OneLine(model)}");
        sb.AppendLine(inv, $"inputs:     {model.InputSize}");
        sb.AppendLine(inv, $"outputs:    {model.OutputSize}");
        sb.AppendLine(inv, $"parameters: {model.ParameterCount:N0}");
        sb.AppendLine();
        sb.AppendLine("layer  kind   input  cells  output  peepholes  projection  cell_clip  gate_clip  input_forget  parameters");
        for (var k = 0; k < model.Layers.Count; k++)
        {
            var l = model.Layers[k];
            sb.AppendLine(inv,
                $"{k,5}  lstm   {l.InputSize,5}  {l.CellSize,5}  {l.OutputSize,6}  {(l.HasPeepholes ? "yes" : "no"),9}  {(l.HasProjection ? l.OutputSize.ToString(inv) + (l.ProjectionClip is { } pc ? $" clip {pc.ToString(inv)}" : "") : "no"),10}  {Optional(l.CellClip),9}  {Optional(l.GateClip),9}  {(l.InputForget ? "yes" : "no"),12}  {l.ParameterCount,10:N0}");
        }

        if (model.Head is { } h)
        {
            sb.AppendLine(inv,
                $"{"head",5}  dense  {h.InputSize,5}  {"-",5}  {h.OutputSize,6}  activation {h.Activation.ToString().ToLowerInvariant()}{"",37}{h.ParameterCount,10:N0}");
        }

        return sb.ToString();

        static string Optional(float? v) => v is { } x ? x.ToString(CultureInfo.InvariantCulture) : "-";
    }
}
