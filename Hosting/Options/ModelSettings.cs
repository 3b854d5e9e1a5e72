using LstmStream.Pipeline.Models;

namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Model</c>: the model file and what the file does not store.</summary>
public sealed class ModelSettings
{
    /// <summary>
    /// Model file (.onnx, .safetensors, .npz). A relative path is looked up in the current directory first,
    /// then beside the executable (where the demo model is copied).
    /// </summary>
    public string Path { get; set; } = "models/demo.onnx";

    /// <summary>TensorFlow 1 weights only: forget_bias added to the forget gate.</summary>
    public float ForgetBias { get; set; } = 1.0f;

    /// <summary>TensorFlow 1 weights only: LSTMCell cell_clip.</summary>
    public float? CellClip { get; set; }

    /// <summary>TensorFlow 1 weights only: LSTMCell proj_clip.</summary>
    public float? ProjectionClip { get; set; }

    /// <summary>Weight archives only: activation after the dense head.</summary>
    public HeadActivation HeadActivation { get; set; } = HeadActivation.None;

    /// <summary>Most bytes the model may take (file, and an .npz archive's inflated members): 1 GiB by default.</summary>
    public long MaxBytes { get; set; } = ModelLoadOptions.DefaultMaxModelBytes;

    public ModelLoadOptions ToLoadOptions() => new()
    {
        MaxModelBytes = MaxBytes,
        ForgetBias = ForgetBias,
        CellClip = CellClip,
        ProjectionClip = ProjectionClip,
        HeadActivation = HeadActivation,
    };
}
