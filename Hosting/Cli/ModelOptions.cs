using System.CommandLine;
using LstmStream.Pipeline.Models;

namespace LstmStream.Hosting.Cli;

/// <summary>The options every verb that loads a model shares: the file and what the file does not store.</summary>
internal sealed class ModelOptions
{
    public Option<FileInfo> Model { get; } = new("--model", "-m")
    {
        Description = "Model file: .onnx, .safetensors or .npz (PyTorch, Keras or TensorFlow 1 weight names)",
        Required = true,
    };

    public Option<float> ForgetBias { get; } = new("--forget-bias")
    {
        Description = "TensorFlow 1 weights only: forget_bias added to the forget gate (their files do not store it)",
        DefaultValueFactory = _ => 1.0f,
    };

    public Option<float?> CellClip { get; } = new("--cell-clip")
    {
        Description = "TensorFlow 1 weights only: LSTMCell cell_clip",
    };

    public Option<float?> ProjectionClip { get; } = new("--proj-clip")
    {
        Description = "TensorFlow 1 weights only: LSTMCell proj_clip",
    };

    public Option<HeadActivation> HeadActivation { get; } = new("--head-activation")
    {
        Description = "Weight archives only: activation after the dense head (none, sigmoid, tanh, relu, softmax)",
        DefaultValueFactory = _ => Pipeline.Models.HeadActivation.None,
    };

    public Option<long> MaxModelBytes { get; } = new("--max-model-bytes")
    {
        Description = "Most bytes the model may take: its file, and an .npz archive's members once inflated (default 1 GiB)",
        DefaultValueFactory = _ => ModelLoadOptions.DefaultMaxModelBytes,
    };

    public ModelOptions()
    {
        MaxModelBytes.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long>() <= 0)
                result.AddError($"--max-model-bytes must be a positive number of bytes, got {result.GetValueOrDefault<long>()}");
        });
    }

    public void AddTo(Command command)
    {
        command.Add(Model);
        command.Add(ForgetBias);
        command.Add(CellClip);
        command.Add(ProjectionClip);
        command.Add(HeadActivation);
        command.Add(MaxModelBytes);
    }

    public LstmModel Load(ParseResult parse)
    {
        var file = parse.GetRequiredValue(Model);
        return ModelLoader.Load(file.FullName, new ModelLoadOptions
        {
            ForgetBias = parse.GetValue(ForgetBias),
            CellClip = parse.GetValue(CellClip),
            ProjectionClip = parse.GetValue(ProjectionClip),
            HeadActivation = parse.GetValue(HeadActivation),
            MaxModelBytes = parse.GetValue(MaxModelBytes),
        });
    }
}
