using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using LstmStream.Tests.Models.Archives;

namespace LstmStream.Tests.Models;

public sealed class ModelLoaderTests : IDisposable
{
    private readonly List<string> _files = [];

    public void Dispose()
    {
        foreach (var f in _files) File.Delete(f);
    }

    private string TempFile(string extension, byte[] content)
    {
        var path = Path.Combine(ArchiveTestData.TempFolder, $"{Guid.NewGuid():N}{extension}");
        File.WriteAllBytes(path, content);
        _files.Add(path);
        return path;
    }

    [Fact]
    public void Missing_file_is_named()
    {
        var path = Path.Combine(ArchiveTestData.TempFolder, $"{Guid.NewGuid():N}.npz");

        var e = Assert.Throws<FileNotFoundException>(() => ModelLoader.Load(path));

        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Unknown_extension_lists_the_supported_ones()
    {
        var path = TempFile(".pkl", [1, 2, 3]);

        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path));

        Assert.Contains("'.pkl' is not a supported model format", e.Message);
        Assert.Contains(".safetensors", e.Message);
        Assert.Contains(".npz", e.Message);
    }

    [Theory]
    [InlineData(".onnx")]
    [InlineData(".safetensors")]
    [InlineData(".npz")]
    public void A_model_file_over_the_size_limit_is_refused_naming_file_and_limit(string extension)
    {
        var path = TempFile(extension, new byte[5000]);

        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path, new ModelLoadOptions { MaxModelBytes = 4096 }));

        Assert.Equal($"{path}: the file has 5000 bytes, more than the model size limit of 4096 bytes " +
                     "(ModelLoadOptions.MaxModelBytes; --max-model-bytes; LstmStream:Model:MaxBytes)", e.Message);
    }

    [Fact]
    public void An_npz_archive_is_held_to_the_limit_once_inflated()
    {
        var path = TempFile(".npz", []);
        NpzWriter.Write(path, [new NamedTensor("weight_ih_l0", [400, 1], new float[400]), new NamedTensor("weight_hh_l0", [400, 100], new float[40_000])],
            compressed: true);
        Assert.True(new FileInfo(path).Length < 4096);

        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path, new ModelLoadOptions { MaxModelBytes = 4096 }));

        Assert.Contains("npz: the member inflates to", e.Message);
        Assert.Contains("model size limit", e.Message);
    }

    [Fact]
    public void The_model_size_limit_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelLoadOptions { MaxModelBytes = 0 });
    }

    [Fact]
    public void Extension_is_case_insensitive()
    {
        var path = TempFile(".NPZ", []);
        NpzWriter.Write(path, [new NamedTensor("weight_ih_l0", [4, 1], [1, 2, 3, 4]), new NamedTensor("weight_hh_l0", [4, 1], [1, 2, 3, 4])]);

        var model = ModelLoader.Load(path);

        Assert.Equal(1, model.InputSize);
        Assert.Contains(path, model.Source);
    }

    [Fact]
    public void ONNX_files_go_through_the_ONNX_importer()
    {
        var model = RandomModel.Create(3, [5, 4], headOutputs: 2, HeadActivation.Tanh, seed: 11);
        var path = TempFile(".onnx", LstmStream.Pipeline.Models.Onnx.OnnxModelWriter.ToBytes(model));

        var loaded = ModelLoader.Load(path);

        Assert.Equal(model.Identity, loaded.Identity);
        Assert.Contains(".onnx", ModelLoader.SupportedExtensions);
    }

    [Fact]
    public void Archive_without_LSTM_weights_says_what_it_expected()
    {
        var path = TempFile(".safetensors", []);
        SafetensorsWriter.Write(path, [new NamedTensor("conv1.weight", [8, 3, 3, 3], new float[216])]);

        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path));

        Assert.Contains("no LSTM weights recognised", e.Message);
        Assert.Contains("'conv1.weight' [8, 3, 3, 3]", e.Message);
    }

    [Fact]
    public void Corrupt_archive_names_the_file()
    {
        var path = TempFile(".safetensors", [1, 2, 3]);

        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path));

        Assert.StartsWith(path + ": safetensors:", e.Message);
    }
}
