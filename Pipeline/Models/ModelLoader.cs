using LstmStream.Pipeline.Models.Archives;

namespace LstmStream.Pipeline.Models;

/// <summary>
/// Loads a model file, choosing the importer by extension: <c>.safetensors</c> and <c>.npz</c> weight
/// archives (<see cref="ArchiveModelImporter"/>) and <c>.onnx</c> graphs (an importer registered with
/// <see cref="Register"/>).
/// </summary>
public static class ModelLoader
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Func<string, ModelLoadOptions, LstmModel>> Importers = new(StringComparer.OrdinalIgnoreCase)
    {
        [".safetensors"] = ArchiveModelImporter.Load,
        [".npz"] = ArchiveModelImporter.Load,
    };

    /// <summary>The extensions that have an importer, like <c>.npz</c>.</summary>
    public static IReadOnlyList<string> SupportedExtensions
    {
        get
        {
            lock (Gate) return Importers.Keys.Order(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>
    /// Registers (or replaces) the importer for files ending in <paramref name="extension"/> (with the dot,
    /// like <c>.onnx</c>). The ONNX importer is wired here at start-up.
    /// </summary>
    public static void Register(string extension, Func<string, ModelLoadOptions, LstmModel> importer)
    {
        ArgumentNullException.ThrowIfNull(extension);
        ArgumentNullException.ThrowIfNull(importer);
        if (extension.Length < 2 || extension[0] != '.')
            throw new ArgumentException($"extension '{extension}' must start with a dot, like '.onnx'", nameof(extension));
        lock (Gate) Importers[extension] = importer;
    }

    /// <summary>Registers an importer that takes no options (like the ONNX importer's <c>Load(path)</c>).</summary>
    public static void Register(string extension, Func<string, LstmModel> importer)
    {
        ArgumentNullException.ThrowIfNull(importer);
        Register(extension, (path, _) => importer(path));
    }

    /// <summary>Loads <paramref name="path"/> with the importer for its extension.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ModelFormatException">The extension has no importer or the file is not a supported model.</exception>
    public static LstmModel Load(string path, ModelLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException(Directory.Exists(path) ? $"model file '{path}' is a directory" : $"model file '{path}' does not exist", path);
        var extension = Path.GetExtension(path);
        Func<string, ModelLoadOptions, LstmModel>? importer;
        lock (Gate) Importers.TryGetValue(extension, out importer);
        if (importer is null)
        {
            var known = string.Join(", ", SupportedExtensions);
            throw new ModelFormatException(extension.Length == 0
                ? $"{path}: the file has no extension, so its model format is unknown (supported: {known})"
                : extension.Equals(".onnx", StringComparison.OrdinalIgnoreCase)
                    ? $"{path}: no ONNX importer is registered in this build (ModelLoader.Register(\".onnx\", …))"
                    : $"{path}: '{extension}' is not a supported model format (supported: {known})");
        }

        return importer(path, options ?? ModelLoadOptions.Default);
    }
}
