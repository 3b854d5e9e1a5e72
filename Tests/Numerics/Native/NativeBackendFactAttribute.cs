namespace LstmStream.Tests.Numerics.Native;

/// <summary>A fact about one backend that is skipped, with the reason, when that backend cannot be loaded and is not required.</summary>
public sealed class NativeBackendFactAttribute : FactAttribute
{
    public NativeBackendFactAttribute(string backend)
    {
        Backend = backend;
        var reason = NativeBackendRequirement.SkipReason(backend);
        if (reason is not null) Skip = reason;
    }

    public string Backend { get; }
}
