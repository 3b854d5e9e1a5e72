using System.Runtime.InteropServices;

namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// A native library, kept loaded for the life of the process (its exports are called through function
/// pointers). On Linux it is loaded with every symbol bound at once (<see cref="DynamicLinker.Now"/>), elsewhere
/// through <see cref="NativeLibrary"/>. Loading never throws for a missing library, an unresolved symbol or a
/// missing export, and never ends the process: <see cref="TryLoad"/> returns the reason instead, naming every
/// file tried.
/// </summary>
internal sealed class NativeLibraryBinding
{
    private NativeLibraryBinding(NativeLibrarySpec spec, string fileName, IntPtr handle)
    {
        Spec = spec;
        FileName = fileName;
        Handle = handle;
    }

    public NativeLibrarySpec Spec { get; }

    /// <summary>The candidate file name that loaded.</summary>
    public string FileName { get; }

    public IntPtr Handle { get; }

    /// <summary>
    /// Loads the first of <paramref name="spec"/>'s file names that the system loader finds and checks that
    /// every one of <paramref name="requiredExports"/> is exported. On failure <paramref name="reason"/>
    /// says which files were tried, what the loader said, or which export is missing, and which package
    /// provides the library.
    /// </summary>
    public static bool TryLoad(NativeLibrarySpec spec, IReadOnlyList<string> requiredExports,
        out NativeLibraryBinding? binding, out string reason)
    {
        ArgumentNullException.ThrowIfNull(spec);
        binding = null;
        var failures = new List<string>();
        foreach (var file in spec.FileNames)
        {
            IntPtr handle;
            if (DynamicLinker.IsSupported)
            {
                // Every symbol bound now: a library that loads but needs a symbol nothing provides is refused here
                // with the linker's message, instead of ending the process at its first call.
                if (!DynamicLinker.TryOpen(file, DynamicLinker.Now, out handle, out var error))
                {
                    failures.Add(error.Contains("undefined symbol", StringComparison.Ordinal) ? $"{file} loads but cannot be bound ({error})" : error);
                    continue;
                }
            }
            else
            {
                try
                {
                    handle = NativeLibrary.Load(file);
                }
                catch (DllNotFoundException e)
                {
                    failures.Add(LoaderMessage(file, e.Message));
                    continue;
                }
                catch (BadImageFormatException e)
                {
                    failures.Add($"{file}: not a loadable library for this process ({LoaderMessage(file, e.Message)})");
                    continue;
                }
            }

            var missing = requiredExports.Where(name => !NativeLibrary.TryGetExport(handle, name, out _)).ToArray();
            if (missing.Length > 0)
            {
                failures.Add($"{file} loaded but does not export {string.Join(", ", missing)}");
                continue;
            }

            binding = new NativeLibraryBinding(spec, file, handle);
            reason = "";
            return true;
        }

        reason = $"{spec.DisplayName} could not be loaded (tried {string.Join("; ", failures)}); it is provided by the {spec.Package}";
        return false;
    }

    /// <summary>The address of an export that <see cref="TryLoad"/> already checked.</summary>
    public IntPtr RequiredExport(string name) =>
        NativeLibrary.TryGetExport(Handle, name, out var address)
            ? address
            : throw new EntryPointNotFoundException($"{FileName} does not export {name}");

    /// <summary>The address of an optional export, or <see cref="IntPtr.Zero"/>.</summary>
    public IntPtr OptionalExport(string name) => NativeLibrary.TryGetExport(Handle, name, out var address) ? address : IntPtr.Zero;

    /// <summary>
    /// .NET's message starts with a generic line and then gives the system loader's own error per path
    /// tried (e.g. "libx.so.1: cannot open shared object file: No such file or directory"): keep those.
    /// </summary>
    private static string LoaderMessage(string file, string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length > 1) return string.Join(" | ", lines.Skip(1));
        return lines.Length == 1 ? $"{file}: {lines[0]}" : $"{file}: not found";
    }
}
