using System.Globalization;
using System.Text.RegularExpressions;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// PyTorch <c>nn.LSTM</c> state dicts: <c>[prefix.]weight_ih_l{k}</c> <c>[4H × in]</c>,
/// <c>weight_hh_l{k}</c> <c>[4H × out]</c>, optional <c>bias_ih_l{k}</c> and <c>bias_hh_l{k}</c> <c>[4H]</c> (summed),
/// optional <c>weight_hr_l{k}</c> <c>[P × H]</c> (proj_size); gate order i, f, g, o. An optional
/// <c>nn.Linear</c> head (<c>X.weight</c> <c>[K × out]</c>, <c>X.bias</c> <c>[K]</c>).
/// </summary>
internal sealed partial class PyTorchLstmLayout : IArchiveLayout
{
    public string Name => "PyTorch nn.LSTM";

    public bool Recognizes(ArchiveTensors tensors) => tensors.Keys.Any(k => Parameter().IsMatch(k));

    public LstmModel Build(ArchiveTensors tensors, ModelLoadOptions options)
    {
        if (options.CellClip is not null || options.ProjectionClip is not null)
            throw tensors.Error("cell clip and projection clip are TensorFlow 1 settings; this archive holds PyTorch nn.LSTM weights, which have neither");

        var prefixes = new SortedSet<string>(StringComparer.Ordinal);
        var layers = new SortedSet<int>();
        foreach (var key in tensors.Keys)
        {
            var m = Parameter().Match(key);
            if (!m.Success) continue;
            if (m.Groups["reverse"].Success)
                throw tensors.Error($"tensor '{key}' belongs to the reverse direction of a bidirectional nn.LSTM; only forward (unidirectional) LSTMs are supported");
            prefixes.Add(m.Groups["prefix"].Value);
            layers.Add(int.Parse(m.Groups["layer"].Value, CultureInfo.InvariantCulture));
        }

        if (prefixes.Count > 1)
            throw tensors.Error($"the archive holds several nn.LSTM modules ({string.Join(", ", prefixes.Select(p => $"'{p}'"))}); a single module (use num_layers for a stack) is supported");
        var prefix = prefixes.Min!;
        var count = layers.Max + 1;
        var built = new List<LstmLayer>();
        int? previousOutput = null;
        for (var k = 0; k < count; k++)
        {
            var layer = BuildLayer(tensors, prefix, k, previousOutput);
            built.Add(layer);
            previousOutput = layer.OutputSize;
        }

        var head = DenseHeadFinder.Find(tensors, '.', ["weight"], ["bias"], weightIsOutputMajor: true, built[^1].OutputSize, options);
        return new LstmModel(built, head, $"{tensors.Source} ({Name})");
    }

    private static LstmLayer BuildLayer(ArchiveTensors tensors, string prefix, int k, int? previousOutput)
    {
        string Key(string kind) => $"{prefix}{kind}_l{k}";
        var wih = tensors.Take(Key("weight_ih"), $"input weights of layer {k}");
        var whh = tensors.Take(Key("weight_hh"), $"recurrent weights of layer {k}");
        tensors.ExpectRank(wih, 2, "[4·hidden, input]");
        if (wih.Shape[0] % 4 != 0 || wih.Shape[0] == 0)
            throw tensors.Error($"tensor '{wih.Name}' has shape {wih.ShapeText}, expected [4·hidden, input]: {wih.Shape[0]} rows are not four gate blocks");
        int cells = wih.Shape[0] / 4, input = wih.Shape[1];
        if (previousOutput is { } prev && input != prev)
            throw tensors.Error($"tensor '{wih.Name}' has shape {wih.ShapeText}, expected [{4 * cells}, {prev}]: layer {k} takes the previous layer's output width {prev}");

        float[]? projection = null;
        int output = cells;
        if (tensors.TryTake(Key("weight_hr")) is { } whr)
        {
            tensors.ExpectRank(whr, 2, $"[proj_size, {cells}]");
            if (whr.Shape[1] != cells || whr.Shape[0] == 0)
                throw tensors.Error($"tensor '{whr.Name}' has shape {whr.ShapeText}, expected [proj_size, {cells}]");
            output = whr.Shape[0];
            projection = GateBlocks.Transpose(whr.Values, output, cells);
        }

        tensors.ExpectShape(whh, $"recurrent weights [4·hidden, {(projection is null ? "hidden" : "proj_size")}]", 4 * cells, output);
        var kernel = new float[(input + output) * 4 * cells];
        GateBlocks.CopyGateRowsTransposed(wih.Values, input, cells, GateBlocks.FromIfco, kernel, 0);
        GateBlocks.CopyGateRowsTransposed(whh.Values, output, cells, GateBlocks.FromIfco, kernel, input);
        var bias = new float[4 * cells];
        foreach (var kind in (string[])["bias_ih", "bias_hh"])
        {
            if (tensors.TryTake(Key(kind)) is not { } b) continue;
            tensors.ExpectShape(b, "gate bias [4·hidden]", 4 * cells);
            GateBlocks.AddGateVector(b.Values, cells, GateBlocks.FromIfco, bias);
        }

        return new LstmLayer(input, cells, kernel, bias, projection: projection, projectionSize: projection is null ? 0 : output);
    }

    [GeneratedRegex(@"^(?<prefix>(?:.*\.)?)(?:weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(?<layer>\d+)(?<reverse>_reverse)?$")]
    private static partial Regex Parameter();
}
