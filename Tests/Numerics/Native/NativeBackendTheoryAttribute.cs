namespace LstmStream.Tests.Numerics.Native;

/// <summary>A theory over one backend that is skipped, with the reason, when that backend cannot be loaded and is not required.</summary>
public sealed class NativeBackendTheoryAttribute : TheoryAttribute
{
    public NativeBackendTheoryAttribute(string backend)
    {
        Backend = backend;
        var reason = NativeBackendRequirement.SkipReason(backend);
        if (reason is not null) Skip = reason;
    }

    public string Backend { get; }
}
