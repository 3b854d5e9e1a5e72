namespace LstmStream.Pipeline.Models.Archives;

/// <summary>The floating-point element encodings the archive readers accept.</summary>
internal enum ElementType
{
    Float16,
    BFloat16,
    Float32,
    Float64,
}
