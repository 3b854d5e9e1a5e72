namespace LstmStream.Tests.Numerics.Native;

/// <summary>A fact that runs only when the run declares native backends as required (<c>LSTMSTREAM_REQUIRE_NATIVE</c>).</summary>
public sealed class RequiredNativeBackendsFactAttribute : FactAttribute
{
    public RequiredNativeBackendsFactAttribute()
    {
        if (NativeBackendRequirement.Required.Count == 0)
            Skip = $"{NativeBackendRequirement.Variable} is not set, so no native backend is required in this run";
    }
}
