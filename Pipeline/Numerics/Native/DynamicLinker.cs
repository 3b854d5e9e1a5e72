using System.Runtime.InteropServices;

namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// The system's dynamic linker (glibc's <c>dlopen</c>, <c>dlerror</c>, <c>dladdr</c>), for what
/// <see cref="NativeLibrary"/> does not offer: binding every symbol of a library when it is loaded
/// (<see cref="Now"/>), so a library with an unresolved symbol is refused with the linker's message instead of
/// ending the process with "symbol lookup error" at its first call (lazy binding), and making a runtime's
/// symbols visible to libraries loaded after it (<see cref="Global"/>). Linux only; elsewhere
/// <see cref="IsSupported"/> is false and callers use <see cref="NativeLibrary"/>.
/// </summary>
internal static unsafe class DynamicLinker
{
    /// <summary><c>RTLD_LAZY</c>: functions bound at their first call.</summary>
    public const int Lazy = 0x1;

    /// <summary><c>RTLD_NOW</c>: every symbol bound before <c>dlopen</c> returns, or the load fails.</summary>
    public const int Now = 0x2;

    /// <summary><c>RTLD_GLOBAL</c>: the library's symbols resolve symbols of libraries loaded later.</summary>
    public const int Global = 0x100;

    private static readonly Lazy<Functions?> Loaded = new(Load);

    /// <summary>Whether <c>dlopen</c> could be found (glibc on Linux: in libc.so.6 since 2.34, before in libdl.so.2).</summary>
    public static bool IsSupported => Loaded.Value is not null;

    /// <summary>
    /// <c>dlopen(file, flags)</c>. The handle stays open for the life of the process. On failure
    /// <paramref name="error"/> is the linker's message (e.g. "libx.so.1: cannot open shared object file: No such
    /// file or directory", "/path/libx.so: undefined symbol: omp_get_num_procs").
    /// </summary>
    public static bool TryOpen(string file, int flags, out IntPtr handle, out string error)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        var functions = Loaded.Value ?? throw new PlatformNotSupportedException("dlopen is not available in this process");
        var name = Marshal.StringToCoTaskMemUTF8(file);
        try
        {
            // dlerror is per thread and reports the last failure: nothing runs on this thread in between.
            handle = functions.Open(name, flags);
            error = handle == IntPtr.Zero ? Marshal.PtrToStringUTF8(functions.Error()) ?? $"{file}: dlopen failed" : "";
            return handle != IntPtr.Zero;
        }
        finally
        {
            Marshal.FreeCoTaskMem(name);
        }
    }

    /// <summary>The path of the loaded file that holds <paramref name="address"/> (<c>dladdr</c>), or null.</summary>
    public static string? FileOf(IntPtr address)
    {
        var functions = Loaded.Value;
        if (functions is null || address == IntPtr.Zero) return null;
        DlInfo info;
        return functions.Address(address, &info) != 0 && info.FileName != IntPtr.Zero ? Marshal.PtrToStringUTF8(info.FileName) : null;
    }

    private static Functions? Load()
    {
        if (!OperatingSystem.IsLinux()) return null;
        foreach (var file in new[] { "libc.so.6", "libdl.so.2" })
        {
            if (NativeLibrary.TryLoad(file, out var library)
                && NativeLibrary.TryGetExport(library, "dlopen", out var open)
                && NativeLibrary.TryGetExport(library, "dlerror", out var error)
                && NativeLibrary.TryGetExport(library, "dladdr", out var address))
                return new Functions(open, error, address);
        }

        return null;
    }

    private sealed class Functions(IntPtr open, IntPtr error, IntPtr address)
    {
        public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> Open = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)open;
        public readonly delegate* unmanaged[Cdecl]<IntPtr> Error = (delegate* unmanaged[Cdecl]<IntPtr>)error;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, DlInfo*, int> Address = (delegate* unmanaged[Cdecl]<IntPtr, DlInfo*, int>)address;
    }

    /// <summary>glibc's <c>Dl_info</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public IntPtr FileName;
        public IntPtr FileBase;
        public IntPtr SymbolName;
        public IntPtr SymbolAddress;
    }
}
