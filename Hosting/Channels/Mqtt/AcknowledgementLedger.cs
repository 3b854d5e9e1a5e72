namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// Which received readings may be acknowledged to the broker, in the order they arrived, when they are acknowledged only
/// once a written checkpoint covers them (<c>Mqtt:Acknowledge = AfterCheckpoint</c>).
/// <para>
/// A reading is taken (<see cref="TakeCovered"/>) once (1) its output was delivered by the pipeline, with the number of
/// checkpoint rounds begun at that moment (<see cref="Delivered"/>, the <c>CheckpointRounds</c> rule), (2) that output
/// was published (<see cref="Published"/>), (3) the last written round is above that number, and (4) every reading
/// received before it has been taken or withdrawn: acknowledgements leave in arrival order. A rejected reading
/// (<see cref="Settle"/>) has nothing to wait for but its turn.
/// </para>
/// <para>
/// Outputs come back in input order per key, not across keys, so a delivered output belongs to the oldest reading of its
/// key still waiting (readings of a key are chained). Positions count the readings from 0. Thread-safe with one small
/// lock: the MQTT handler adds, the pipeline's egress marks deliveries, the publisher marks publishing, the acknowledging
/// loop takes.
/// </para>
/// </summary>
/// <typeparam name="T">What is acknowledged later (the MQTT message's event arguments).</typeparam>
public sealed class AcknowledgementLedger<T>
{
    private const byte Waiting = 0, OutputDelivered = 1, OutputPublished = 2, Withdrawn = 3;
    private const long None = -1;

    private readonly object _gate = new();
    private readonly Dictionary<string, (long First, long Last)> _waitingByKey = new(StringComparer.Ordinal);
    private Entry[] _entries;
    private long _head, _next;

    /// <param name="capacity">Initial room (grows by doubling; a power of two is used).</param>
    public AcknowledgementLedger(int capacity = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _entries = new Entry[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity)];
    }

    /// <summary>Readings received and neither taken nor withdrawn-and-passed yet (awaiting acknowledgement).</summary>
    public long Count
    {
        get
        {
            lock (_gate) return _next - _head;
        }
    }

    /// <summary>A reading of <paramref name="key"/> that goes into the pipeline; its output will come back. Returns its position.</summary>
    public long Expect(string key, T item)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            var position = Append(item, Waiting, round: 0);
            ref var entry = ref At(position);
            entry.Key = key;
            if (_waitingByKey.TryGetValue(key, out var chain))
            {
                At(chain.Last).Next = position;
                entry.Previous = chain.Last;
                _waitingByKey[key] = (chain.First, position);
            }
            else
            {
                _waitingByKey.Add(key, (position, position));
            }

            return position;
        }
    }

    /// <summary>A reading that does not enter the pipeline (rejected; its error record is out): taken in its turn.</summary>
    public long Settle(T item)
    {
        lock (_gate) return Append(item, OutputPublished, round: None);
    }

    /// <summary>A reading <see cref="Expect"/>ed but then not handed to the pipeline (shutdown): never taken, passed over in its turn.</summary>
    public void Withdraw(long position)
    {
        lock (_gate)
        {
            if (position < _head || position >= _next) throw new ArgumentOutOfRangeException(nameof(position), position, "not a reading held here");
            ref var entry = ref At(position);
            if (entry.State != Waiting) throw new InvalidOperationException($"reading {position} is not waiting for its output");
            Unlink(ref entry);
            entry.State = Withdrawn;
            entry.Item = default!;
        }
    }

    /// <summary>
    /// The pipeline delivered the output of <paramref name="key"/>'s oldest waiting reading, while <paramref name="round"/>
    /// checkpoint rounds had begun. Returns that reading's position (for <see cref="Published"/>), or -1 when no reading of
    /// the key waits (an output this ledger does not follow).
    /// </summary>
    public long Delivered(string key, long round)
    {
        lock (_gate)
        {
            if (!_waitingByKey.TryGetValue(key, out var chain)) return None;
            var position = chain.First;
            ref var entry = ref At(position);
            Unlink(ref entry);
            entry.State = OutputDelivered;
            entry.Round = round;
            return position;
        }
    }

    /// <summary>The outputs of the readings at <paramref name="positions"/> have been published (negative positions are ignored).</summary>
    public void Published(ReadOnlySpan<long> positions)
    {
        lock (_gate)
        {
            foreach (var position in positions)
            {
                if (position < _head || position >= _next) continue;
                ref var entry = ref At(position);
                if (entry.State == OutputDelivered) entry.State = OutputPublished;
            }
        }
    }

    /// <summary>
    /// Moves into <paramref name="into"/>, in arrival order, the readings at the front that <paramref name="committed"/> (the
    /// last written checkpoint round) covers, stopping at the first that is not covered yet; withdrawn ones are passed over.
    /// Returns how many were added.
    /// </summary>
    public int TakeCovered(long committed, List<T> into)
    {
        var taken = 0;
        lock (_gate)
        {
            while (_head < _next)
            {
                ref var entry = ref At(_head);
                if (entry.State == OutputPublished && entry.Round < committed)
                {
                    into.Add(entry.Item);
                    taken++;
                }
                else if (entry.State != Withdrawn)
                {
                    break;
                }

                entry = default;
                _head++;
            }
        }

        return taken;
    }

    private long Append(T item, byte state, long round)
    {
        if (_next - _head == _entries.Length) Grow();
        var position = _next++;
        At(position) = new Entry { Item = item, State = state, Round = round, Next = None, Previous = None };
        return position;
    }

    private void Grow()
    {
        var larger = new Entry[_entries.Length * 2];
        for (var p = _head; p < _next; p++) larger[p & (larger.Length - 1)] = At(p);
        _entries = larger;
    }

    private ref Entry At(long position) => ref _entries[position & (_entries.Length - 1)];

    /// <summary>Takes a waiting reading out of its key's chain.</summary>
    private void Unlink(ref Entry entry)
    {
        var key = entry.Key!;
        var chain = _waitingByKey[key];
        if (entry.Previous != None) At(entry.Previous).Next = entry.Next;
        else chain.First = entry.Next;
        if (entry.Next != None) At(entry.Next).Previous = entry.Previous;
        else chain.Last = entry.Previous;
        if (chain.First == None) _waitingByKey.Remove(key);
        else _waitingByKey[key] = chain;
        entry.Key = null;
        entry.Next = entry.Previous = None;
    }

    private struct Entry
    {
        public T Item;
        public string? Key;
        public long Round;
        public long Next, Previous;
        public byte State;
    }
}
