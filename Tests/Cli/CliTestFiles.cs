namespace LstmStream.Tests.Cli;

/// <summary>Temporary files of one test, removed when it ends.</summary>
public sealed class CliTestFiles : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-cli-{Guid.NewGuid():N}");

    public CliTestFiles() => Directory.CreateDirectory(_folder);

    public string PathOf(string name) => Path.Combine(_folder, name);

    public string Write(string name, string content)
    {
        var path = PathOf(name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
