using Akka.Actor;
using Akka.Persistence;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// Records how many buckets the store's keys fall into (one snapshot, persistence id <see cref="StoreId"/>) and checks
/// it at every start: the first start records its count; a later start with another count is refused with a message
/// naming both counts and the setting, because every stored key would be looked for in another bucket. Started for one
/// <see cref="CheckBucketCount"/>: answers its asker once recovered (or when the store cannot be read), then stops.
/// </summary>
public sealed class BucketCountActor : ReceivePersistentActor
{
    /// <summary>The persistence id of the store's bucket-count record.</summary>
    public const string StoreId = "lstmstream-buckets";

    private readonly IActorRef _asker;
    private readonly int _asked;
    private readonly string _setting;
    private int? _recorded;

    public BucketCountActor(IActorRef asker, int bucketCount, string setting)
    {
        _asker = asker;
        _asked = bucketCount;
        _setting = setting;
        Recover<SnapshotOffer>(offer => _recorded = ((BucketCountRecord)offer.Snapshot).BucketCount);
        Recover<RecoveryCompleted>(_ => Check());
        Command<SaveSnapshotSuccess>(_ => Answer(new BucketCountConfirmed(_asked, true)));
        Command<SaveSnapshotFailure>(m =>
            Answer(new Status.Failure(new SessionStoreException($"the session store's bucket count could not be recorded: {m.Cause.Message}", m.Cause))));
    }

    public override string PersistenceId => StoreId;

    /// <param name="setting">Where <paramref name="bucketCount"/> comes from, named in a refusal.</param>
    public static Props Props(IActorRef asker, int bucketCount, string setting) =>
        Akka.Actor.Props.Create(() => new BucketCountActor(asker, bucketCount, setting));

    private void Check()
    {
        if (_recorded is not { } recorded)
        {
            SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(PersistenceId, 1, DateTime.UtcNow), new BucketCountRecord(_asked)), Self);
            return;
        }

        Answer(recorded == _asked
            ? new BucketCountConfirmed(recorded, false)
            : new Status.Failure(new SessionStoreException(
                $"the session store holds sessions in {recorded} buckets, but {_setting} is {_asked}; " +
                $"set it back to {recorded} (the count is fixed for a store's life) or use a new store")));
    }

    private void Answer(object answer)
    {
        _asker.Tell(answer);
        Context.Stop(Self);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _asker.Tell(new Status.Failure(new SessionStoreException($"the session store could not be read: {reason.Message}", reason)));
        base.OnRecoveryFailure(reason, message);
    }
}
