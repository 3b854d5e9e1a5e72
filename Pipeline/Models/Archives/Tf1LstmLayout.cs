using System.Globalization;
using System.Text.RegularExpressions;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// TensorFlow 1 variables of <c>BasicLSTMCell</c> / <c>LSTMCell</c>, alone or in a <c>MultiRNNCell</c>, under any
/// variable scope: <c>…/[cell_{k}/]basic_lstm_cell/kernel</c> and <c>/bias</c>, or <c>…/lstm_cell/kernel</c>,
/// <c>/bias</c>, optional peepholes <c>/w_i_diag</c>, <c>/w_f_diag</c>, <c>/w_o_diag</c> <c>[H]</c> and
/// <c>/projection/kernel</c> <c>[H × P]</c> (older names <c>weights</c> / <c>biases</c> too). The kernel is
/// <c>[input + out, 4H]</c> in gate order i, j, f, o — the internal layout. <c>forget_bias</c>, <c>cell_clip</c> and
/// <c>proj_clip</c> are not stored and come from <see cref="ModelLoadOptions"/>. Layers are ordered by their
/// <c>cell_{k}</c> scope. An optional dense head (<c>dense/kernel</c> <c>[out × K]</c> + <c>bias</c>, or
/// <c>fully_connected/weights</c> + <c>biases</c>).
/// </summary>
internal sealed partial class Tf1LstmLayout : IArchiveLayout
{
    public string Name => "TensorFlow 1 LSTM";

    public bool Recognizes(ArchiveTensors tensors) =>
        tensors.Keys.Any(k => CellParameter().Match(k) is { Success: true } m && m.Groups["param"].Value is "kernel" or "weights")
        && !tensors.Keys.Any(k => k == "recurrent_kernel" || k.EndsWith("/recurrent_kernel", StringComparison.Ordinal));

    public LstmModel Build(ArchiveTensors tensors, ModelLoadOptions options)
    {
        var cells = new List<(int? Index, string Scope)>();
        foreach (var key in tensors.Keys)
        {
            var m = CellParameter().Match(key);
            if (!m.Success || m.Groups["param"].Value is not ("kernel" or "weights")) continue;
            var scope = m.Groups["scope"].Value;
            if (scope.Split('/').Contains("bw"))
                throw tensors.Error($"tensor '{tensors.Peek(key).Name}' belongs to the backward cell (bw) of a bidirectional RNN; only forward (unidirectional) LSTMs are supported");
            var index = CellIndex().Matches(scope) is { Count: > 0 } found
                ? int.Parse(found[^1].Groups["k"].Value, CultureInfo.InvariantCulture)
                : (int?)null;
            cells.Add((index, scope));
        }

        if (cells.Count > 1)
        {
            if (cells.Any(c => c.Index is null) || cells.Select(c => c.Index).Distinct().Count() != cells.Count)
                throw tensors.Error($"cannot order the LSTM cells {string.Join(", ", cells.Select(c => $"'{c.Scope}'"))}: a stack must come from a MultiRNNCell, whose cells are scoped cell_0, cell_1, …");
            cells.Sort((a, b) => a.Index!.Value.CompareTo(b.Index!.Value));
        }

        var built = new List<LstmLayer>();
        foreach (var (_, scope) in cells)
            built.Add(BuildLayer(tensors, scope, built.Count == 0 ? null : built[^1].OutputSize, options));
        if (options.ProjectionClip is not null && !built.Any(l => l.HasProjection))
            throw tensors.Error("a projection clip is set but no LSTM cell in the archive has a projection");

        var head = DenseHeadFinder.Find(tensors, '/', ["kernel", "weights"], ["bias", "biases"], weightIsOutputMajor: false, built[^1].OutputSize, options);
        return new LstmModel(built, head, $"{tensors.Source} ({Name})");
    }

    private static LstmLayer BuildLayer(ArchiveTensors tensors, string scope, int? previousOutput, ModelLoadOptions options)
    {
        NamedTensor? TryTakeEither(string a, string b) => tensors.TryTake($"{scope}/{a}") ?? tensors.TryTake($"{scope}/{b}");
        var kernel = TryTakeEither("kernel", "weights")!;
        tensors.ExpectRank(kernel, 2, "[input + output, 4·units]");
        if (kernel.Shape[1] % 4 != 0 || kernel.Shape[1] == 0)
            throw tensors.Error($"tensor '{kernel.Name}' has shape {kernel.ShapeText}, expected [input + output, 4·units]: {kernel.Shape[1]} columns are not four gate blocks");
        int cells = kernel.Shape[1] / 4;

        float[]? projection = null;
        int output = cells;
        if (TryTakeEither("projection/kernel", "projection/weights") is { } proj)
        {
            tensors.ExpectRank(proj, 2, $"[{cells}, num_proj]");
            if (proj.Shape[0] != cells || proj.Shape[1] == 0)
                throw tensors.Error($"tensor '{proj.Name}' has shape {proj.ShapeText}, expected [{cells}, num_proj]");
            output = proj.Shape[1];
            projection = (float[])proj.Values.Clone();
        }

        int input = kernel.Shape[0] - output;
        if (input <= 0)
            throw tensors.Error($"tensor '{kernel.Name}' has shape {kernel.ShapeText}, expected [input + {output}, {4 * cells}] with at least one input row");
        if (previousOutput is { } prev && input != prev)
            throw tensors.Error($"tensor '{kernel.Name}' has shape {kernel.ShapeText}, expected [{prev} + {output}, {4 * cells}]: this cell takes the previous cell's output width {prev}");

        var biasTensor = TryTakeEither("bias", "biases")
            ?? throw tensors.Error($"tensor '{scope}/bias' (gate bias of cell '{scope}') is missing");
        tensors.ExpectShape(biasTensor, "gate bias [4·units]", 4 * cells);
        var bias = (float[])biasTensor.Values.Clone();
        for (var u = 0; u < cells; u++) bias[2 * cells + u] += options.ForgetBias;

        var peepholes = new NamedTensor?[3];
        string[] diagonals = ["w_i_diag", "w_f_diag", "w_o_diag"];
        for (var p = 0; p < 3; p++)
        {
            peepholes[p] = tensors.TryTake($"{scope}/{diagonals[p]}");
            if (peepholes[p] is { } t) tensors.ExpectShape(t, "peephole diagonal [units]", cells);
        }

        if (peepholes.Any(p => p is null) && peepholes.Any(p => p is not null))
            throw tensors.Error($"cell '{scope}' has only some of the peephole diagonals w_i_diag, w_f_diag, w_o_diag; all three are needed");

        return new LstmLayer(input, cells, (float[])kernel.Values.Clone(), bias,
            peepholeInput: peepholes[0]?.Values, peepholeForget: peepholes[1]?.Values, peepholeOutput: peepholes[2]?.Values,
            cellClip: options.CellClip, projection: projection, projectionSize: projection is null ? 0 : output,
            projectionClip: projection is null ? null : options.ProjectionClip);
    }

    [GeneratedRegex(@"^(?<scope>(?:.*/)?(?:basic_lstm_cell|lstm_cell)(?:_\d+)?)/(?<param>kernel|weights|bias|biases|w_i_diag|w_f_diag|w_o_diag|projection/kernel|projection/weights)$")]
    private static partial Regex CellParameter();

    [GeneratedRegex(@"(?:^|/)cell_(?<k>\d+)(?=/)")]
    private static partial Regex CellIndex();
}
