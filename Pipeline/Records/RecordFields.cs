namespace LstmStream.Pipeline.Records;

/// <summary>The field names of an input record (<c>{"key","seq","x","reset","end"}</c>) and an output record (<c>y</c>).</summary>
public static class RecordFields
{
    public const string Key = "key";
    public const string Seq = "seq";
    public const string X = "x";
    public const string Reset = "reset";
    public const string End = "end";
    public const string Y = "y";
}
