using System.Globalization;
using System.Text.RegularExpressions;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Keras <c>LSTM</c> layers: per layer <c>kernel</c> <c>[in × 4H]</c>, <c>recurrent_kernel</c> <c>[H × 4H]</c>
/// and an optional <c>bias</c> <c>[4H]</c> (or <c>[8H]</c>, input and recurrent halves, from <c>CuDNNLSTM</c>),
/// named <c>[model/]lstm_N[/lstm_cell[_M]]/kernel[:0]</c>; gate order i, f, c, o; layers ordered by the
/// layer name's numeric suffix (<c>lstm</c>, <c>lstm_1</c>, <c>lstm_2</c> …). The recurrent activation is
/// taken to be the sigmoid (tf.keras and Keras 3 default). An optional <c>Dense</c> head (<c>dense/kernel</c>
/// <c>[out × K]</c>, <c>dense/bias</c>).
/// </summary>
internal sealed partial class KerasLstmLayout : IArchiveLayout
{
    public string Name => "Keras LSTM";

    public bool Recognizes(ArchiveTensors tensors) => tensors.Keys.Any(k => LastPart(k) == "recurrent_kernel");

    public LstmModel Build(ArchiveTensors tensors, ModelLoadOptions options)
    {
        if (options.CellClip is not null || options.ProjectionClip is not null)
            throw tensors.Error("cell clip and projection clip are TensorFlow 1 settings; this archive holds Keras LSTM weights, which have neither");

        var cells = new List<(int Order, string LayerName, string CellScope)>();
        foreach (var key in tensors.Keys)
        {
            if (LastPart(key) != "recurrent_kernel") continue;
            var cellScope = key.Length > "recurrent_kernel".Length ? key[..^("/recurrent_kernel".Length)] : "";
            var layerScope = cellScope;
            int cut = layerScope.LastIndexOf('/');
            if (cut >= 0 && CellName().IsMatch(layerScope[(cut + 1)..])) layerScope = layerScope[..cut];
            if (layerScope.Split('/').Any(part => part.StartsWith("backward_", StringComparison.Ordinal)))
                throw tensors.Error($"tensor '{tensors.Peek(key).Name}' belongs to the backward direction of a Keras Bidirectional layer; only forward (unidirectional) LSTMs are supported");
            var layerName = layerScope[(layerScope.LastIndexOf('/') + 1)..];
            var m = NumberedName().Match(layerName);
            int order = m.Groups["n"].Success ? int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) : 0;
            cells.Add((order, layerScope, cellScope));
        }

        cells.Sort((a, b) => a.Order.CompareTo(b.Order));
        for (var k = 1; k < cells.Count; k++)
        {
            if (cells[k].Order == cells[k - 1].Order)
                throw tensors.Error($"cannot order the LSTM layers '{cells[k - 1].LayerName}' and '{cells[k].LayerName}': layers are ordered by their numeric name suffix (lstm, lstm_1, lstm_2 …) and these have the same one");
        }

        var built = new List<LstmLayer>();
        foreach (var (_, layerName, cellScope) in cells)
        {
            var layer = BuildLayer(tensors, layerName, cellScope, built.Count == 0 ? null : built[^1].OutputSize);
            built.Add(layer);
        }

        var head = DenseHeadFinder.Find(tensors, '/', ["kernel"], ["bias"], weightIsOutputMajor: false, built[^1].OutputSize, options);
        return new LstmModel(built, head, $"{tensors.Source} ({Name})");
    }

    private static LstmLayer BuildLayer(ArchiveTensors tensors, string layerName, string cellScope, int? previousOutput)
    {
        string Key(string part) => cellScope.Length == 0 ? part : $"{cellScope}/{part}";
        var recurrent = tensors.Take(Key("recurrent_kernel"), $"recurrent kernel of layer '{layerName}'");
        tensors.ExpectRank(recurrent, 2, "[units, 4·units]");
        int cells = recurrent.Shape[0];
        tensors.ExpectShape(recurrent, "recurrent kernel [units, 4·units]", cells, 4 * cells);
        if (cells == 0) throw tensors.Error($"tensor '{recurrent.Name}' has shape {recurrent.ShapeText}: a layer needs at least one unit");
        var kernel = tensors.Take(Key("kernel"), $"input kernel of layer '{layerName}'");
        tensors.ExpectRank(kernel, 2, $"[input, {4 * cells}]");
        int input = kernel.Shape[0];
        if (previousOutput is { } prev && input != prev)
            throw tensors.Error($"tensor '{kernel.Name}' has shape {kernel.ShapeText}, expected [{prev}, {4 * cells}]: layer '{layerName}' takes the previous layer's output width {prev}");
        tensors.ExpectShape(kernel, "input kernel [input, 4·units]", input, 4 * cells);
        if (input == 0) throw tensors.Error($"tensor '{kernel.Name}' has shape {kernel.ShapeText}: a layer needs at least one input");

        var weights = new float[(input + cells) * 4 * cells];
        GateBlocks.CopyGateColumns(kernel.Values, input, cells, GateBlocks.FromIfco, weights, 0);
        GateBlocks.CopyGateColumns(recurrent.Values, cells, cells, GateBlocks.FromIfco, weights, input);
        var bias = new float[4 * cells];
        if (tensors.TryTake(Key("bias")) is { } b)
        {
            if (b.Rank == 1 && b.Shape[0] == 8 * cells)
            {
                GateBlocks.AddGateVector(b.Values.AsSpan(0, 4 * cells), cells, GateBlocks.FromIfco, bias);
                GateBlocks.AddGateVector(b.Values.AsSpan(4 * cells), cells, GateBlocks.FromIfco, bias);
            }
            else
            {
                tensors.ExpectShape(b, "gate bias [4·units]", 4 * cells);
                GateBlocks.AddGateVector(b.Values, cells, GateBlocks.FromIfco, bias);
            }
        }

        return new LstmLayer(input, cells, weights, bias);
    }

    private static string LastPart(string key) => key[(key.LastIndexOf('/') + 1)..];

    [GeneratedRegex(@"^lstm_cell(?:_\d+)?$")]
    private static partial Regex CellName();

    [GeneratedRegex(@"^(?<base>.*?)(?:_(?<n>\d+))?$")]
    private static partial Regex NumberedName();
}
