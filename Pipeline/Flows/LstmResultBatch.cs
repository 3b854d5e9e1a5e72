using System.Collections;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// One element of <see cref="LstmFlow.CreateBatched"/>'s output: the results of many steps, one
/// <see cref="LstmResultRow"/> each, without an object per step. The outputs' <c>y</c> vectors lie in one float block
/// per batch (each row's <see cref="LstmResultRow.Y"/> is a slice of it); the batch and the block belong to the
/// receiver and are never reused by the flow, so rows may be kept, passed on or read on another thread at any time
/// (there is nothing to release). Read it with <c>foreach</c> (no allocation) or by index:
/// <code>
/// foreach (var row in batch)
/// {
///     if (row.Kind == LstmResultKind.Output) Publish(row.Key!, row.Seq, row.Y.Span);
///     else if (row.Kind == LstmResultKind.Rejected) log.LogWarning("{Rejection}", row.Rejection);
/// }
/// </code>
/// A key's rows come in its steps' order, within a batch and across batches. A batch's rows are not those of one
/// input batch: steps of several input batches may share an output batch, and one input batch's results may
/// spread over several.
/// </summary>
public sealed class LstmResultBatch : IReadOnlyList<LstmResultRow>
{
    private const byte KindMask = 0x03;
    private const byte HasSeq = 0x80;

    private readonly string?[] _keys;
    private readonly long[] _seqs;
    private readonly byte[] _flags;
    private readonly float[] _y;
    private readonly int _width;
    private readonly int[]? _yRows;
    private readonly LstmStepRejected?[]? _rejections;

    /// <param name="count">Rows.</param>
    /// <param name="keys">Each row's key.</param>
    /// <param name="seqs">Each row's seq (when <paramref name="flags"/> has <see cref="HasSeq"/>).</param>
    /// <param name="flags">Each row's <see cref="LstmResultKind"/>, with <see cref="HasSeq"/> when it has a seq.</param>
    /// <param name="y">The outputs, <paramref name="width"/> floats each.</param>
    /// <param name="width">Floats per output.</param>
    /// <param name="yRows">Each row's output index in <paramref name="y"/>; null: row i's is i.</param>
    /// <param name="rejections">Each rejected row's rejection; null when the batch has none.</param>
    private LstmResultBatch(int count, string?[] keys, long[] seqs, byte[] flags, float[] y, int width, int[]? yRows,
        LstmStepRejected?[]? rejections)
    {
        Count = count;
        _keys = keys;
        _seqs = seqs;
        _flags = flags;
        _y = y;
        _width = width;
        _yRows = yRows;
        _rejections = rejections;
    }

    /// <summary>Rows (steps) in the batch, at least one.</summary>
    public int Count { get; }

    /// <summary>The result of the batch's row <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in <c>[0, Count)</c>.</exception>
    public LstmResultRow this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"the batch has {Count} rows");
            var flags = _flags[index];
            var kind = (LstmResultKind)(flags & KindMask);
            long? seq = (flags & HasSeq) != 0 ? _seqs[index] : null;
            if (kind == LstmResultKind.Rejected)
            {
                var rejection = _rejections![index]!;
                return new LstmResultRow(kind, rejection.Key, rejection.Seq, ReadOnlyMemory<float>.Empty, rejection);
            }

            var y = kind == LstmResultKind.Output
                ? new ReadOnlyMemory<float>(_y, (_yRows?[index] ?? index) * _width, _width)
                : ReadOnlyMemory<float>.Empty;
            return new LstmResultRow(kind, _keys[index], seq, y, null);
        }
    }

    /// <summary>The rows in order, without allocating.</summary>
    public Enumerator GetEnumerator() => new(this);

    IEnumerator<LstmResultRow> IEnumerable<LstmResultRow>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Enumerates an <see cref="LstmResultBatch"/>'s rows.</summary>
    public struct Enumerator : IEnumerator<LstmResultRow>
    {
        private readonly LstmResultBatch _batch;
        private int _index;

        internal Enumerator(LstmResultBatch batch)
        {
            _batch = batch;
            _index = -1;
        }

        /// <inheritdoc />
        public readonly LstmResultRow Current => _batch[_index];

        readonly object IEnumerator.Current => Current;

        /// <inheritdoc />
        public bool MoveNext() => ++_index < _batch.Count;

        /// <inheritdoc />
        public void Reset() => _index = -1;

        /// <inheritdoc />
        public readonly void Dispose()
        {
        }
    }

    /// <summary>Writes a batch row by row (the batched flow's stage); <see cref="Build"/> hands it over.</summary>
    internal sealed class Builder
    {
        private readonly string?[] _keys;
        private readonly long[] _seqs;
        private readonly byte[] _flags;
        private readonly float[] _y;
        private readonly int _width;
        private int[]? _yRows;
        private LstmStepRejected?[]? _rejections;
        private int _outputs;

        /// <param name="capacity">Most rows.</param>
        /// <param name="outputs">Most rows with an output slot (outputs and duplicates).</param>
        /// <param name="width">Floats per output.</param>
        public Builder(int capacity, int outputs, int width)
        {
            // Every row's seq, flag and output slot is written before the batch is handed over: no zeroing needed.
            _keys = new string?[capacity];
            _seqs = GC.AllocateUninitializedArray<long>(capacity);
            _flags = GC.AllocateUninitializedArray<byte>(capacity);
            _y = outputs * width == 0 ? [] : GC.AllocateUninitializedArray<float>(outputs * width);
            _width = width;
        }

        /// <summary>Rows written.</summary>
        public int Count { get; private set; }

        /// <summary>The block the outputs are copied into: output <c>i</c> (in the order written) at <c>i × width</c>.</summary>
        public Span<float> OutputBlock => _y;

        /// <summary>Writes an output (<paramref name="duplicate"/>: a duplicate) whose <c>y</c> is the next output slot of <see cref="OutputBlock"/>.</summary>
        public void AddOutput(string key, long seq, bool hasSeq, bool duplicate)
        {
            var row = Count++;
            _keys[row] = key;
            _seqs[row] = seq;
            _flags[row] = (byte)((duplicate ? (byte)LstmResultKind.Duplicate : (byte)LstmResultKind.Output) | (hasSeq ? HasSeq : 0));
            if (_yRows is not null) _yRows[row] = _outputs;
            _outputs++;
        }

        /// <summary>
        /// Writes rows <paramref name="first"/> .. <paramref name="first"/> + <paramref name="count"/> - 1 of the pipeline's
        /// output <paramref name="batch"/> as outputs and duplicates, their <c>y</c> the next output slots; returns how many
        /// were duplicates.
        /// </summary>
        public int AddOutputs(StepBatch batch, int first, int count)
        {
            var row = Count;
            if (_yRows is not null)
            {
                for (var i = 0; i < count; i++) _yRows[row + i] = _outputs + i;
            }

            ((ReadOnlySpan<string?>)batch.Keys.AsSpan(first, count)).CopyTo(_keys.AsSpan(row));
            batch.Seq.AsSpan(first, count).CopyTo(_seqs.AsSpan(row));
            var flags = batch.Flags.AsSpan(first, count);
            var kinds = _flags.AsSpan(row, count);
            var duplicates = 0;
            for (var i = 0; i < kinds.Length; i++)
            {
                var f = flags[i];
                var duplicate = (f & StepFlags.Duplicate) != 0;
                duplicates += duplicate ? 1 : 0;
                kinds[i] = duplicate ? (byte)((byte)LstmResultKind.Duplicate | HasSeq)
                    : (byte)((byte)LstmResultKind.Output | ((f & StepFlags.HasSeq) != 0 ? HasSeq : 0));
            }

            Count += count;
            _outputs += count;
            return duplicates;
        }

        /// <summary>Writes a rejection.</summary>
        public void AddRejection(LstmStepRejected rejected)
        {
            var row = Count++;
            if (_yRows is null)
            {
                // From here on rows and output slots differ: the rows written so far were all outputs.
                _yRows = new int[_keys.Length];
                for (var i = 0; i < row; i++) _yRows[i] = i;
            }

            _rejections ??= new LstmStepRejected?[_keys.Length];
            _rejections[row] = rejected;
            _flags[row] = (byte)LstmResultKind.Rejected;
        }

        public LstmResultBatch Build() => new(Count, _keys, _seqs, _flags, _y, _width, _yRows, _rejections);
    }
}
