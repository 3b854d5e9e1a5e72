namespace LstmStream.Hosting.Operations;

/// <summary>The channels' side of the load figures (<c>/admin/counts</c>, <c>lstmstream.records.in_flight</c>, the statistics line).</summary>
public interface IChannelLoad
{
    /// <summary>Channels connected now.</summary>
    int Channels { get; }

    /// <summary>Records (and error records) between ingress and their channel's output, all channels.</summary>
    long RecordsInFlight { get; }
}
