namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// The recurrent state of a batch of independent rows for every layer of a stack: per layer,
/// <c>C[layer]</c> is <c>[batch × CellSize]</c> and <c>H[layer]</c> is <c>[batch × OutputSize]</c>, row-major.
/// (TensorFlow's tuple of LSTMStateTuple(c, h), one per MultiRNNCell layer.)
/// </summary>
internal sealed class LstmState
{
    public LstmState(int batch, float[][] c, float[][] h)
    {
        if (c.Length != h.Length) throw new ArgumentException("C and H must have one entry per layer");
        Batch = batch;
        C = c;
        H = h;
    }

    public int Batch { get; }
    public float[][] C { get; }
    public float[][] H { get; }
    public int LayerCount => C.Length;
}
