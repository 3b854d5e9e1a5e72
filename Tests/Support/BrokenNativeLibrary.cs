using System.Diagnostics;

namespace LstmStream.Tests.Support;

/// <summary>
/// A native library that loads but cannot run, built for a test with the machine's C compiler (<c>cc</c>; the
/// Debian package gcc, which scripts/test.sh installs): it exports what a CBLAS/MKL library exports
/// (<c>cblas_sgemm</c>, <c>MKL_Set_Num_Threads</c>, <c>MKL_Set_Threading_Layer</c>, <c>MKL_Set_Interface_Layer</c>),
/// but <c>cblas_sgemm</c> calls <see cref="MissingSymbol"/>, which no library defines. Loaded lazily, as
/// <c>NativeLibrary.Load</c> does, it looks complete and its first GEMM ends the process with "symbol lookup error",
/// the way MKL's OpenMP threading layer does without its OpenMP runtime. Deleted with its folder on dispose.
/// </summary>
internal sealed class BrokenNativeLibrary : IDisposable
{
    /// <summary>The symbol the library needs and nothing provides (the one MKL's Intel layer misses).</summary>
    public const string MissingSymbol = "omp_get_num_procs";

    private const string Source = $$"""
        extern int {{MissingSymbol}}(void);
        void cblas_sgemm(int layout, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                         const float* b, int ldb, float beta, float* c, int ldc) { c[0] = (float){{MissingSymbol}}(); }
        void MKL_Set_Num_Threads(int threads) { }
        int MKL_Set_Threading_Layer(int layer) { return layer; }
        int MKL_Set_Interface_Layer(int layer) { return layer; }
        """;

    private BrokenNativeLibrary(string folder, IReadOnlyList<string> files)
    {
        Folder = folder;
        Files = files;
    }

    /// <summary>The temporary folder holding the library (put it on <c>LD_LIBRARY_PATH</c> to shadow the real one).</summary>
    public string Folder { get; }

    /// <summary>Full paths of the copies, one per file name asked for.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>Compiles the library once and stores it under each of <paramref name="fileNames"/> in a new temporary folder.</summary>
    public static async Task<BrokenNativeLibrary> BuildAsync(params string[] fileNames)
    {
        var folder = Directory.CreateTempSubdirectory("lstmstream-broken-lib-").FullName;
        var source = Path.Combine(folder, "broken.c");
        var built = Path.Combine(folder, "broken.so");
        await File.WriteAllTextAsync(source, Source);
        var start = new ProcessStartInfo("cc") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-shared", "-fPIC", "-o", built, source }) start.ArgumentList.Add(arg);
        Process compiler;
        try
        {
            compiler = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Directory.Delete(folder, true);
            throw new InvalidOperationException("this test builds a small shared library with the C compiler 'cc', which is not installed (Debian package gcc; scripts/test.sh installs it)", e);
        }

        using (compiler)
        {
            var errors = compiler.StandardError.ReadToEndAsync();
            await compiler.WaitForExitAsync();
            if (compiler.ExitCode != 0) throw new InvalidOperationException($"cc failed with exit {compiler.ExitCode}: {await errors}");
        }

        var files = fileNames.Select(name => Path.Combine(folder, name)).ToArray();
        foreach (var file in files) File.Copy(built, file);
        return new BrokenNativeLibrary(folder, files);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, true);
        }
        catch (IOException)
        {
            // A process that loaded the library may still hold it open; the temp folder is cleaned by the system.
        }
    }
}
