namespace LstmStream.Pipeline.Models;

/// <summary>
/// One LSTM layer in the engine's single internal layout (TensorFlow 1 <c>LSTMCell</c> semantics).
/// <para>
/// <see cref="Kernel"/> is row-major <c>[(InputSize + OutputSize) × 4·CellSize]</c>: rows multiply the
/// concatenated step input <c>[x | h_prev]</c>, columns are the four gate blocks in the order
/// i (input), j (candidate), f (forget), o (output), each <see cref="CellSize"/> wide.
/// <see cref="Bias"/> is <c>[4·CellSize]</c> in the same gate order; a TensorFlow <c>forget_bias</c> and
/// ONNX's two bias vectors are already folded into it by the importers.
/// </para>
/// Per step, with <c>z = [x | h_prev] · Kernel + Bias</c> split into (z_i, z_j, z_f, z_o):
/// <code>
/// i = σ(clip(z_i + P_i ⊙ c_prev))
/// f = σ(clip(z_f + P_f ⊙ c_prev))                   f = 1 − i when InputForget (z_f and P_f unused)
/// c = f ⊙ c_prev + i ⊙ tanh(clip(z_j))              then c = clamp(c, ±CellClip) when set
/// o = σ(clip(z_o + P_o ⊙ c))                        (the new, cell-clipped c)
/// m = o ⊙ tanh(c)
/// h = m · Projection, then clamp(h, ±ProjectionClip) when set; h = m without a projection
/// </code>
/// <para>
/// Without the ONNX-only options this is TensorFlow 1's <c>LSTMCell</c> (peepholes on c_prev for i and f
/// and on the new c for o, <c>cell_clip</c>, <c>num_proj</c> / <c>proj_clip</c>; <c>BasicLSTMCell</c> is the
/// case with none of them, forget_bias folded into Bias).
/// </para>
/// <para>
/// The ONNX-only options follow ONNX Runtime's CPU LSTM (<c>uni_directional_lstm.cc</c>,
/// <c>GateComputations</c>): <c>clip</c> (<see cref="GateClip"/>) clamps each gate's complete activation
/// input — the matrix products plus both biases plus the peephole term — for i, f, j and o, and nothing
/// else (the c passed to tanh for m is not clipped); <c>input_forget</c> (<see cref="InputForget"/>)
/// computes the input gate as usual and sets the forget gate to f = 1 − i.
/// </para>
/// </summary>
public sealed class LstmLayer
{
    /// <summary>Creates a layer; throws an <see cref="ArgumentException"/> naming the array whose length does not fit the sizes.</summary>
    public LstmLayer(
        int inputSize,
        int cellSize,
        float[] kernel,
        float[] bias,
        float[]? peepholeInput = null,
        float[]? peepholeForget = null,
        float[]? peepholeOutput = null,
        float? cellClip = null,
        float? gateClip = null,
        bool inputForget = false,
        float[]? projection = null,
        int projectionSize = 0,
        float? projectionClip = null)
    {
        if (inputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, "input size must be positive");
        if (cellSize <= 0) throw new ArgumentOutOfRangeException(nameof(cellSize), cellSize, "cell size must be positive");
        InputSize = inputSize;
        CellSize = cellSize;
        if (projection is null)
        {
            if (projectionSize != 0) throw new ArgumentException("projectionSize given without projection weights", nameof(projectionSize));
            if (projectionClip is not null) throw new ArgumentException("projectionClip given without projection weights", nameof(projectionClip));
            OutputSize = cellSize;
        }
        else
        {
            if (projectionSize <= 0) throw new ArgumentOutOfRangeException(nameof(projectionSize), projectionSize, "projection size must be positive");
            Expect(projection, cellSize * projectionSize, nameof(projection), $"[{cellSize} × {projectionSize}]");
            OutputSize = projectionSize;
        }

        Expect(kernel, (inputSize + OutputSize) * 4 * cellSize, nameof(kernel), $"[({inputSize} + {OutputSize}) × {4 * cellSize}]");
        Expect(bias, 4 * cellSize, nameof(bias), $"[{4 * cellSize}]");
        if (peepholeInput is not null) Expect(peepholeInput, cellSize, nameof(peepholeInput), $"[{cellSize}]");
        if (peepholeForget is not null) Expect(peepholeForget, cellSize, nameof(peepholeForget), $"[{cellSize}]");
        if (peepholeOutput is not null) Expect(peepholeOutput, cellSize, nameof(peepholeOutput), $"[{cellSize}]");
        if ((peepholeInput is null) != (peepholeForget is null) || (peepholeInput is null) != (peepholeOutput is null))
            throw new ArgumentException("peepholes come as a set: input, forget and output diagonals all given or none");
        if (cellClip is { } cc && !(cc > 0)) throw new ArgumentOutOfRangeException(nameof(cellClip), cc, "cell clip must be positive");
        if (gateClip is { } gc && !(gc > 0)) throw new ArgumentOutOfRangeException(nameof(gateClip), gc, "gate clip must be positive");
        if (projectionClip is { } pc && !(pc > 0)) throw new ArgumentOutOfRangeException(nameof(projectionClip), pc, "projection clip must be positive");

        Kernel = kernel;
        Bias = bias;
        PeepholeInput = peepholeInput;
        PeepholeForget = peepholeForget;
        PeepholeOutput = peepholeOutput;
        CellClip = cellClip;
        GateClip = gateClip;
        InputForget = inputForget;
        Projection = projection;
        ProjectionClip = projectionClip;
    }

    /// <summary>Width of x, the step input.</summary>
    public int InputSize { get; }

    /// <summary>Number of cell units (c is this wide): TensorFlow's num_units, ONNX's hidden_size.</summary>
    public int CellSize { get; }

    /// <summary>Width of h, the layer's output and recurrent input: the projection size, or <see cref="CellSize"/>.</summary>
    public int OutputSize { get; }

    /// <summary>Rows of <see cref="Kernel"/>: the width of <c>[x | h_prev]</c>.</summary>
    public int ConcatSize => InputSize + OutputSize;

    /// <summary>Columns of <see cref="Kernel"/>: the four gate blocks.</summary>
    public int GateWidth => 4 * CellSize;

    /// <summary>Row-major <c>[ConcatSize × GateWidth]</c> weights, gate blocks i, j, f, o.</summary>
    public float[] Kernel { get; }

    /// <summary><c>[GateWidth]</c> bias in the gate order of <see cref="Kernel"/> (forget bias folded in).</summary>
    public float[] Bias { get; }

    /// <summary>Peephole weights of the input gate (<see cref="CellSize"/> values), or null.</summary>
    public float[]? PeepholeInput { get; }

    /// <summary>Peephole weights of the forget gate (<see cref="CellSize"/> values), or null.</summary>
    public float[]? PeepholeForget { get; }

    /// <summary>Peephole weights of the output gate (<see cref="CellSize"/> values), or null.</summary>
    public float[]? PeepholeOutput { get; }

    /// <summary>True when the layer has peephole connections.</summary>
    public bool HasPeepholes => PeepholeInput is not null;

    /// <summary>TensorFlow <c>cell_clip</c>: the new cell state is clamped to ±this.</summary>
    public float? CellClip { get; }

    /// <summary>ONNX <c>clip</c>: every gate's activation input (with bias and peephole term) is clamped to ±this.</summary>
    public float? GateClip { get; }

    /// <summary>ONNX <c>input_forget</c>: the forget gate is coupled to the input gate, f = 1 − i (as ONNX Runtime computes it).</summary>
    public bool InputForget { get; }

    /// <summary>Row-major <c>[CellSize × OutputSize]</c> projection (TensorFlow <c>num_proj</c>), or null.</summary>
    public float[]? Projection { get; }

    /// <summary>TensorFlow <c>proj_clip</c>: the projected output is clamped to ±this.</summary>
    public float? ProjectionClip { get; }

    /// <summary>True when the layer projects m to a smaller h (<see cref="Projection"/>).</summary>
    public bool HasProjection => Projection is not null;

    /// <summary>Weights, biases, peepholes and projection values of the layer.</summary>
    public long ParameterCount =>
        (long)Kernel.Length + Bias.Length + (HasPeepholes ? 3L * CellSize : 0) + (Projection?.Length ?? 0);

    private static void Expect(float[] values, int length, string name, string shape)
    {
        ArgumentNullException.ThrowIfNull(values, name);
        if (values.Length != length)
            throw new ArgumentException($"{name} has {values.Length} values, expected {length} for shape {shape}", name);
    }
}
