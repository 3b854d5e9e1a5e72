namespace LstmStream.Hosting.Options;

/// <summary>Where a configured model path points: absolute as given, or relative to the current directory, then to the content root.</summary>
public static class ModelFile
{
    /// <summary>The full path of an existing file, or null when none of the candidates exists.</summary>
    public static string? Resolve(string path, string contentRoot)
    {
        if (Path.IsPathRooted(path)) return File.Exists(path) ? path : null;
        var fromCurrent = Path.GetFullPath(path);
        if (File.Exists(fromCurrent)) return fromCurrent;
        var fromRoot = Path.GetFullPath(Path.Combine(contentRoot, path));
        return File.Exists(fromRoot) ? fromRoot : null;
    }
}
