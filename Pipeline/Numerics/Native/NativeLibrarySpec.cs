namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// Where a native math library is looked for and how a user gets it: the file names tried in order
/// (resolved by the system loader, so <c>LD_LIBRARY_PATH</c> and the ld.so cache apply) and the
/// Debian package that provides it, for error messages.
/// </summary>
internal sealed record NativeLibrarySpec(string DisplayName, IReadOnlyList<string> FileNames, string Package)
{
    /// <summary>Debian's OpenBLAS with its own pthreads (<c>libopenblas0-pthread</c>).</summary>
    public static NativeLibrarySpec OpenBlas { get; } =
        new("OpenBLAS", ["libopenblas.so.0", "libopenblas.so"], "Debian package libopenblas0-pthread (apt-get install libopenblas0-pthread)");

    /// <summary>Intel oneMKL's single dynamic library.</summary>
    public static NativeLibrarySpec Mkl { get; } =
        new("Intel MKL", ["libmkl_rt.so.2", "libmkl_rt.so"],
            "Debian package libmkl-rt from the non-free component (apt-get install libmkl-rt), or Intel oneMKL with its lib folder on LD_LIBRARY_PATH");

    /// <summary>Debian's oneDNN, built with GNU OpenMP.</summary>
    public static NativeLibrarySpec OneDnn { get; } =
        new("oneDNN", ["libdnnl.so.2"], "Debian package libdnnl2 (apt-get install libdnnl2)");

    /// <summary>GNU OpenMP, which Debian's oneDNN loads; used only to set its thread count.</summary>
    public static NativeLibrarySpec GnuOpenMp { get; } =
        new("GNU OpenMP", ["libgomp.so.1"], "Debian package libgomp1 (apt-get install libgomp1)");

    public override string ToString() => $"{DisplayName} ({string.Join(" or ", FileNames)})";
}
