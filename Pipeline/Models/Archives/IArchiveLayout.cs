namespace LstmStream.Pipeline.Models.Archives;

/// <summary>One way of naming LSTM weights in an archive (a framework's convention), turned into a model.</summary>
internal interface IArchiveLayout
{
    /// <summary>The framework's name for messages, like "PyTorch nn.LSTM".</summary>
    string Name { get; }

    /// <summary>Whether any tensor name has this layout's LSTM form.</summary>
    bool Recognizes(ArchiveTensors tensors);

    /// <summary>Builds the model, taking every tensor it uses; the caller reports what is left.</summary>
    LstmModel Build(ArchiveTensors tensors, ModelLoadOptions options);
}
