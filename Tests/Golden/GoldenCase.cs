using System.Text.Json;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Golden;

/// <summary>One folder of <c>shared/golden</c>: model, input, expected output and tolerance.</summary>
public sealed record GoldenCase(string Name, string Directory, double AbsoluteTolerance, double RelativeTolerance, int Steps)
{
    public string Model => Path.Combine(Directory, "model.onnx");
    public string Input => Path.Combine(Directory, "input.ndjson");
    public string Expected => Path.Combine(Directory, "expected.ndjson");

    public static GoldenCase Load(string name)
    {
        var dir = Path.Combine(SharedData.Golden, name);
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "case.json")));
        var tolerance = json.RootElement.GetProperty("tolerance");
        return new GoldenCase(name, dir, tolerance.GetProperty("abs").GetDouble(), tolerance.GetProperty("rel").GetDouble(),
            json.RootElement.GetProperty("steps").GetInt32());
    }

    /// <summary>Every case folder's name.</summary>
    public static IReadOnlyList<string> All() =>
        System.IO.Directory.GetDirectories(SharedData.Golden)
            .Where(dir => File.Exists(Path.Combine(dir, "case.json")))
            .Select(dir => Path.GetFileName(dir))
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary>Every case folder's name, for xunit's MemberData.</summary>
    public static TheoryData<string> Names() => new(All());
}
