namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// MKL's threading layers that LstmStream can run on, with the values of <c>mkl_set_threading_layer</c>
/// (<c>MKL_THREADING_INTEL</c> 0, <c>MKL_THREADING_SEQUENTIAL</c> 1, <c>MKL_THREADING_GNU</c> 3).
/// </summary>
public enum MklThreadingLayer
{
    /// <summary>Intel OpenMP (<c>libmkl_intel_thread</c>): needs libiomp5 (or LLVM's libomp) in the process.</summary>
    Intel = 0,

    /// <summary>No threads of MKL's own (<c>libmkl_sequential</c>); LstmStream splits a multiply over its own workers.</summary>
    Sequential = 1,

    /// <summary>GNU OpenMP (<c>libmkl_gnu_thread</c>): needs libgomp in the process.</summary>
    Gnu = 3,
}
