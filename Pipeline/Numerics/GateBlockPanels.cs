using System.Runtime.CompilerServices;
using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// An LSTM layer's kernel and bias packed for <see cref="FusedLayerStep"/>: the gate columns regrouped per
/// block of L cell units (L = the vector lanes) as <c>[i | j | f | o]</c> of that block, so that one panel of
/// four vectors holds the four gates of L units and one micro-kernel tile over it yields everything the cell
/// update of those units needs. In the last block, the lanes past the cell size are zero columns.
/// </summary>
internal sealed unsafe class GateBlockPanels
{
    private readonly float[] _bias;

    public GateBlockPanels(LstmLayer layer, int lanes)
    {
        ArgumentNullException.ThrowIfNull(layer);
        int cells = layer.CellSize, k = layer.ConcatSize, gw = layer.GateWidth;
        Lanes = lanes;
        Cells = cells;
        Blocks = (cells + lanes - 1) / lanes;
        int width = Blocks * BlockWidth;
        var regrouped = new float[(long)k * width];
        _bias = GC.AllocateArray<float>(width + 16, pinned: true);
        for (var b = 0; b < Blocks; b++)
        {
            for (var gate = 0; gate < 4; gate++)
            {
                for (var l = 0; l < lanes; l++)
                {
                    int unit = b * lanes + l;
                    if (unit >= cells) continue;
                    int from = gate * cells + unit, to = b * BlockWidth + gate * lanes + l;
                    for (var row = 0; row < k; row++) regrouped[(long)row * width + to] = layer.Kernel[(long)row * gw + from];
                    _bias[to] = layer.Bias[from];
                }
            }
        }

        Panels = new PackedPanels(regrouped, k, width, lanes, 4);
    }

    /// <summary>Floats per vector; cell units per block.</summary>
    public int Lanes { get; }

    public int Cells { get; }

    /// <summary>Blocks of <see cref="Lanes"/> units (the last one may be partly empty); one panel each.</summary>
    public int Blocks { get; }

    /// <summary>Columns of one block: four gate vectors.</summary>
    public int BlockWidth => 4 * Lanes;

    /// <summary>The regrouped kernel: one panel of <see cref="BlockWidth"/> columns per block, K-major inside.</summary>
    public PackedPanels Panels { get; }

    /// <summary>The regrouped bias, <see cref="BlockWidth"/> values per block (pinned for the object's lifetime).</summary>
    public float* Bias => (float*)Unsafe.AsPointer(ref _bias[0]);

    /// <summary>Keeps the pinned storage reachable while raw pointers into it are in use.</summary>
    public void KeepAlive()
    {
        GC.KeepAlive(_bias);
        Panels.KeepAlive();
    }
}
