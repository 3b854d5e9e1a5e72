using LstmStream.Pipeline.Models.Archives;
using LstmStream.Pipeline.Models.Onnx;

namespace LstmStream.Pipeline.Models;

/// <summary>
/// Loads a model file, choosing the importer by extension: <c>.safetensors</c> and <c>.npz</c> weight
/// archives (<see cref="ArchiveModelImporter"/>) and <c>.onnx</c> graphs (<see cref="OnnxModelImporter"/>).
/// </summary>
public static class ModelLoader
{
    private static readonly Dictionary<string, Func<string, ModelLoadOptions, LstmModel>> Importers = new(StringComparer.OrdinalIgnoreCase)
    {
        [".onnx"] = (path, _) => OnnxModelImporter.Load(path),
        [".safetensors"] = ArchiveModelImporter.Load,
        [".npz"] = ArchiveModelImporter.Load,
    };

    /// <summary>The extensions that have an importer, like <c>.npz</c>.</summary>
    public static IReadOnlyList<string> SupportedExtensions { get; } = Importers.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Loads <paramref name="path"/> with the importer for its extension.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ModelFormatException">The extension has no importer, the file is larger than
    /// <see cref="ModelLoadOptions.MaxModelBytes"/> or it is not a supported model.</exception>
    public static LstmModel Load(string path, ModelLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException(Directory.Exists(path) ? $"model file '{path}' is a directory" : $"model file '{path}' does not exist", path);
        var extension = Path.GetExtension(path);
        if (!Importers.TryGetValue(extension, out var importer))
        {
            var known = string.Join(", ", SupportedExtensions);
            throw new ModelFormatException(extension.Length == 0
                ? $"{path}: the file has no extension, so its model format is unknown (supported: {known})"
                : $"{path}: '{extension}' is not a supported model format (supported: {known})");
        }

        options ??= ModelLoadOptions.Default;
        var size = new FileInfo(path).Length;
        if (size > options.MaxModelBytes)
            throw new ModelFormatException(
                $"{path}: the file has {size} bytes, more than the model size limit of {options.MaxModelBytes} bytes " +
                "(ModelLoadOptions.MaxModelBytes; --max-model-bytes; LstmStream:Model:MaxBytes)");
        return importer(path, options);
    }
}
