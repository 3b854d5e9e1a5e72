namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// Intel MKL loaded and set up for LstmStream: <c>cblas_sgemm</c> from MKL's single dynamic library
/// (<c>libmkl_rt</c>), with the LP64 interface and a threading layer chosen before MKL's first call.
/// <para>
/// libmkl_rt loads its threading layer at its first call, lazily bound, and the layers expect an OpenMP runtime
/// the process has already loaded: MKL's default (Intel OpenMP) in a .NET process ends it at the first GEMM with
/// "symbol lookup error: libmkl_intel_thread.so: undefined symbol: omp_get_num_procs". So nothing is called
/// before every piece has been loaded here, in MKL's own order, with every symbol bound at once
/// (<see cref="DynamicLinker.Now"/>): the OpenMP runtime first (made global, so the layer binds to it), then
/// libmkl_core (lazily and global, as MKL loads it), the threading layer and the LP64 interface layer, all from
/// libmkl_rt's own folder. A missing piece or an unresolved symbol becomes the reason MKL is unavailable; then
/// the layer is set (<c>MKL_Set_Threading_Layer</c>, which overrides <c>MKL_THREADING_LAYER</c>) and one small
/// multiply is checked.
/// </para>
/// <para>
/// The layer comes from MKL's own variable <c>MKL_THREADING_LAYER</c>: unset or <c>SEQUENTIAL</c> (LstmStream's
/// default: MKL runs on the calling thread, and <see cref="MklMatMul"/> splits a multiply over LstmStream's own
/// workers), <c>GNU</c> (libgomp) or <c>INTEL</c> (libiomp5, or LLVM's libomp.so.5), which then keep threads of
/// their own (<c>MKL_Set_Num_Threads</c>).
/// </para>
/// <para>
/// Before its first multiply MKL is put in its conditional numerical reproducibility mode with the branch it would
/// pick anyway (<c>MKL_CBWR_Set(MKL_CBWR_AUTO)</c>): without it MKL chooses code paths by the operands' alignment in
/// memory, so one row multiplied from two places could differ in its last bits, and a replayed record would not give
/// its output again bitwise. A value of MKL's own <c>MKL_CBWR</c> variable is left to MKL instead.
/// </para>
/// </summary>
internal sealed unsafe class MklLibrary
{
    /// <summary>MKL's environment variable naming its threading layer.</summary>
    public const string LayerVariable = "MKL_THREADING_LAYER";

    /// <summary>MKL's environment variable naming its conditional numerical reproducibility branch.</summary>
    public const string ReproducibilityVariable = "MKL_CBWR";

    private const int InterfaceLp64 = 0;

    /// <summary><c>MKL_CBWR_AUTO</c>: reproducible results with the code branch MKL picks for this CPU.</summary>
    private const int ReproducibleAuto = 2;

    private MklLibrary(CblasLibrary cblas, MklThreadingLayer layer, string? openMpRuntime)
    {
        Cblas = cblas;
        Layer = layer;
        OpenMpRuntime = openMpRuntime;
    }

    public CblasLibrary Cblas { get; }

    public MklThreadingLayer Layer { get; }

    /// <summary>The OpenMP runtime file loaded for <see cref="Layer"/>, or null for the sequential layer.</summary>
    public string? OpenMpRuntime { get; }

    /// <summary>
    /// Loads and sets up MKL with the threading layer named by <paramref name="layerSetting"/> (the value of
    /// <see cref="LayerVariable"/>). Never calls into MKL before every library it will use has been bound, so a
    /// broken or incomplete installation gives null and the reason, never a dead process.
    /// </summary>
    public static MklLibrary? TryLoad(string? layerSetting, out string reason)
    {
        if (!TryParseLayer(layerSetting, out var layer, out reason)) return null;
        var cblas = CblasLibrary.TryLoad(NativeLibrarySpec.Mkl, ["MKL_Set_Num_Threads"], out reason);
        if (cblas is null) return null;
        var binding = cblas.Binding;
        var setLayer = (delegate* unmanaged[Cdecl]<int, int>)binding.OptionalExport("MKL_Set_Threading_Layer");
        var setInterface = (delegate* unmanaged[Cdecl]<int, int>)binding.OptionalExport("MKL_Set_Interface_Layer");
        if (setLayer is null || setInterface is null)
        {
            reason = $"{binding.FileName} exports cblas_sgemm but not MKL_Set_Threading_Layer and MKL_Set_Interface_Layer: it is not Intel MKL's single dynamic library";
            return null;
        }

        if (!DynamicLinker.IsSupported)
        {
            reason = "Intel MKL's threading layer can only be checked before use on Linux (glibc's dlopen)";
            return null;
        }

        string? runtime = null;
        if (layer != MklThreadingLayer.Sequential && !TryLoadOpenMp(layer, out runtime, out reason)) return null;
        if (!TryBindLayer(binding, layer, out reason)) return null;

        var interfaceInForce = setInterface(InterfaceLp64);
        if (interfaceInForce != InterfaceLp64)
        {
            reason = $"Intel MKL's interface layer is {interfaceInForce}, not LP64 (32-bit integers), which LstmStream calls it with (unset MKL_INTERFACE_LAYER)";
            return null;
        }

        var layerInForce = setLayer((int)layer);
        if (layerInForce != (int)layer)
        {
            reason = $"Intel MKL kept threading layer {LayerName(layerInForce)} instead of {LayerName((int)layer)}: it was already used in this process before LstmStream set it up";
            return null;
        }

        if (!TrySetReproducible(binding, out reason)) return null;
        if (!MultipliesCorrectly(cblas, out reason)) return null;
        reason = "";
        return new MklLibrary(cblas, layer, runtime);
    }

    /// <summary>
    /// Puts MKL in its reproducible mode (<c>MKL_CBWR_AUTO</c>) unless <see cref="ReproducibilityVariable"/> names a
    /// mode already; false with the reason when MKL lacks the call or refuses it.
    /// </summary>
    private static bool TrySetReproducible(NativeLibraryBinding binding, out string reason)
    {
        reason = "";
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(ReproducibilityVariable))) return true;
        var set = (delegate* unmanaged[Cdecl]<int, int>)binding.OptionalExport("MKL_CBWR_Set");
        if (set is null)
        {
            reason = $"{binding.FileName} does not export MKL_CBWR_Set: without conditional numerical reproducibility (Intel MKL 11.0 or later) its results depend on where the operands lie in memory";
            return false;
        }

        var status = set(ReproducibleAuto);
        if (status != 0)
        {
            reason = $"Intel MKL refused its reproducible mode (MKL_CBWR_Set(MKL_CBWR_AUTO) returned {status}): without it its results depend on where the operands lie in memory";
            return false;
        }

        return true;
    }

    /// <summary>The layer named by a <see cref="LayerVariable"/> value: unset or blank means sequential.</summary>
    internal static bool TryParseLayer(string? value, out MklThreadingLayer layer, out string reason)
    {
        reason = "";
        layer = MklThreadingLayer.Sequential;
        switch (value?.Trim().ToUpperInvariant())
        {
            case null or "" or "SEQUENTIAL":
                return true;
            case "GNU":
                layer = MklThreadingLayer.Gnu;
                return true;
            case "INTEL":
                layer = MklThreadingLayer.Intel;
                return true;
            default:
                reason = $"{LayerVariable}={value} is not a threading layer LstmStream runs MKL on: expected SEQUENTIAL (the default), GNU or INTEL";
                return false;
        }
    }

    /// <summary>The OpenMP runtimes tried for a layer, in order.</summary>
    internal static IReadOnlyList<string> OpenMpRuntimes(MklThreadingLayer layer) => layer switch
    {
        MklThreadingLayer.Gnu => ["libgomp.so.1"],
        MklThreadingLayer.Intel => ["libiomp5.so", "libomp.so.5"],
        _ => [],
    };

    /// <summary>Loads the layer's OpenMP runtime with its symbols global, so the layer binds to it.</summary>
    private static bool TryLoadOpenMp(MklThreadingLayer layer, out string? runtime, out string reason)
    {
        var errors = new List<string>();
        foreach (var file in OpenMpRuntimes(layer))
        {
            if (DynamicLinker.TryOpen(file, DynamicLinker.Now | DynamicLinker.Global, out _, out var error))
            {
                runtime = file;
                reason = "";
                return true;
            }

            errors.Add(error);
        }

        runtime = null;
        var package = layer == MklThreadingLayer.Gnu ? "Debian package libgomp1" : "Intel's libiomp5 (oneAPI) or LLVM's libomp (Debian package libomp5-14)";
        reason = $"{LayerVariable}={LayerName((int)layer)} asks for Intel MKL's {LayerName((int)layer)} OpenMP layer, but its OpenMP runtime could not be loaded " +
                 $"({string.Join("; ", errors)}); it is provided by the {package}. Unset {LayerVariable} for the sequential layer (LstmStream's default)";
        return false;
    }

    /// <summary>
    /// Loads libmkl_core (lazily bound and global, as libmkl_rt does), then the threading layer and the LP64 interface
    /// layer with every symbol bound, from the folder libmkl_rt was loaded from and with its file name suffix.
    /// </summary>
    private static bool TryBindLayer(NativeLibraryBinding binding, MklThreadingLayer layer, out string reason)
    {
        var rtPath = DynamicLinker.FileOf(binding.RequiredExport("cblas_sgemm"));
        var folder = rtPath is null ? null : Path.GetDirectoryName(rtPath);
        var rtName = Path.GetFileName(rtPath ?? binding.FileName);
        var suffix = rtName.StartsWith("libmkl_rt", StringComparison.Ordinal) ? rtName["libmkl_rt".Length..] : ".so";
        string Beside(string name) => folder is null ? name + suffix : Path.Combine(folder, name + suffix);

        var layerFile = layer switch
        {
            MklThreadingLayer.Gnu => "libmkl_gnu_thread",
            MklThreadingLayer.Intel => "libmkl_intel_thread",
            _ => "libmkl_sequential",
        };
        foreach (var (file, flags) in new[]
                 {
                     (Beside("libmkl_core"), DynamicLinker.Lazy | DynamicLinker.Global),
                     (Beside(layerFile), DynamicLinker.Now | DynamicLinker.Global),
                     (Beside("libmkl_intel_lp64"), DynamicLinker.Now | DynamicLinker.Global),
                 })
        {
            if (DynamicLinker.TryOpen(file, flags, out _, out var error)) continue;
            reason = $"Intel MKL's {LayerName((int)layer)} threading layer cannot be used ({error})" +
                     (layer == MklThreadingLayer.Sequential ? "; the MKL installation is incomplete" : $"; unset {LayerVariable} for the sequential layer (LstmStream's default)");
            return false;
        }

        reason = "";
        return true;
    }

    /// <summary>The first call into MKL: [1 2; 3 4] · [5 6; 7 8] must give [19 22; 43 50] exactly.</summary>
    private static bool MultipliesCorrectly(CblasLibrary cblas, out string reason)
    {
        var a = stackalloc float[] { 1, 2, 3, 4 };
        var b = stackalloc float[] { 5, 6, 7, 8 };
        var c = stackalloc float[4];
        cblas.Sgemm(2, 2, 2, a, b, 0f, c);
        if (c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50)
        {
            reason = "";
            return true;
        }

        reason = $"Intel MKL's cblas_sgemm gave [{c[0]} {c[1]}; {c[2]} {c[3]}] for [1 2; 3 4] · [5 6; 7 8], expected [19 22; 43 50]";
        return false;
    }

    internal static string LayerName(int layer) => layer switch
    {
        0 => "INTEL",
        1 => "SEQUENTIAL",
        2 => "PGI",
        3 => "GNU",
        4 => "TBB",
        _ => $"{layer}",
    };
}
