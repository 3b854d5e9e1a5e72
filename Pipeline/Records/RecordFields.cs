namespace LstmStream.Pipeline.Records;

/// <summary>The field names of an input record (<c>{"key","seq","x","reset","end"}</c>) and an output record (<c>y</c>).</summary>
public static class RecordFields
{
    /// <summary>Input and output: the record's key.</summary>
    public const string Key = "key";

    /// <summary>Input (optional) and output: the step's sequence number.</summary>
    public const string Seq = "seq";

    /// <summary>Input: the step's vector.</summary>
    public const string X = "x";

    /// <summary>Input (optional): zero the key's state before the step.</summary>
    public const string Reset = "reset";

    /// <summary>Input (optional): discard the key's state after the step.</summary>
    public const string End = "end";

    /// <summary>Output: the model's output vector.</summary>
    public const string Y = "y";
}
