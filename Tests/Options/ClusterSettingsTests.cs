using LstmStream.Hosting.Options;
using LstmStream.Hosting.Service;
using LstmStream.Tests.Service;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace LstmStream.Tests.Options;

public sealed class ClusterSettingsTests
{
    private static readonly string Pg = "Host=127.0.0.1;Port=5432;Database=lstm;Username=postgres";

    [Theory]
    [InlineData("LstmStream:Cluster:Enabled", "needs a session store", "LstmStream:Sessions:Store=none")]
    [InlineData("LstmStream:Cluster:SeedNodes", "SQLite file", "LstmStream:Sessions:Store=/tmp/lstmstream-cluster-settings.db",
        "LstmStream:Cluster:SeedNodes:0=akka.tcp://lstmstream@127.0.0.1:4053")]
    [InlineData("LstmStream:Cluster:SeedNodes:1", "must be akka.tcp://lstmstream@host:port, got 'akka.tcp://other@10.0.0.2:4053'",
        "LstmStream:Cluster:SeedNodes:0=akka.tcp://lstmstream@10.0.0.1:4053", "LstmStream:Cluster:SeedNodes:1=akka.tcp://other@10.0.0.2:4053")]
    [InlineData("LstmStream:Cluster:SeedNodes:0", "got 'akka.tcp://lstmstream@nohost'", "LstmStream:Cluster:SeedNodes:0=akka.tcp://lstmstream@nohost")]
    [InlineData("LstmStream:Cluster:Port", "must be within 0..65535", "LstmStream:Cluster:Port=70000")]
    [InlineData("LstmStream:Cluster:Port", "the other nodes must know this node's port", "LstmStream:Cluster:Port=0",
        "LstmStream:Cluster:SeedNodes:0=akka.tcp://lstmstream@10.0.0.1:4053")]
    [InlineData("LstmStream:Cluster:Shards", "must be within 1..Sessions:Buckets (256)", "LstmStream:Cluster:Shards=300")]
    [InlineData("LstmStream:Cluster:Shards", "must be within 1..Sessions:Buckets", "LstmStream:Cluster:Shards=0")]
    [InlineData("LstmStream:Cluster:SplitBrain", "must be keep-majority, keep-oldest or off, got 'coin-toss'", "LstmStream:Cluster:SplitBrain=coin-toss")]
    [InlineData("LstmStream:Cluster:HandOffTimeout", "must be positive", "LstmStream:Cluster:HandOffTimeout=00:00:00")]
    [InlineData("LstmStream:Cluster:Hostname", "must name the address", "LstmStream:Cluster:Hostname= ")]
    [InlineData("LstmStream:Cluster:RebalanceLimit", "must be 0 (no rebalancing) or more, got -1", "LstmStream:Cluster:RebalanceLimit=-1")]
    [InlineData("LstmStream:Cluster:StableAfter", "must be positive", "LstmStream:Cluster:StableAfter=00:00:00")]
    [InlineData("LstmStream:Cluster:RebalanceInterval", "must be positive", "LstmStream:Cluster:RebalanceInterval=00:00:00")]
    public void An_invalid_cluster_setting_is_refused_naming_its_key(string key, string reason, params string[] settings)
    {
        var failure = Assert.Throws<OptionsValidationException>(() => Check(["LstmStream:Cluster:Enabled=true", $"LstmStream:Sessions:Store={Pg}", .. settings]));

        Assert.Contains(failure.Failures, f => f.StartsWith(key + ":", StringComparison.Ordinal) && f.Contains(reason, StringComparison.Ordinal));
    }

    [Fact]
    public void Cluster_mode_is_off_by_default_and_alone_needs_no_other_cluster_setting()
    {
        Assert.False(Check([]).Cluster.Enabled);
        var alone = Check(["LstmStream:Cluster:Enabled=true", "LstmStream:Sessions:Store=/tmp/lstmstream-cluster-settings.db"]).Cluster;
        Assert.True(alone.Enabled);
        Assert.Empty(alone.SeedNodes);
        Assert.Equal(("127.0.0.1", 4053, 32, "keep-majority"), (alone.Hostname, alone.Port, alone.Shards, alone.SplitBrain));
        Assert.Equal((10, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20)), (alone.RebalanceLimit, alone.RebalanceInterval, alone.StableAfter));
        var three = Check([
            "LstmStream:Cluster:Enabled=true", $"LstmStream:Sessions:Store={Pg}", "LstmStream:Cluster:SeedNodes:0=akka.tcp://lstmstream@node-a.example:4053",
            "LstmStream:Cluster:SeedNodes:1=akka.tcp://lstmstream@10.0.0.2:4053",
        ]).Cluster;
        Assert.Equal(2, three.SeedNodes.Count);
    }

    private static ServiceOptions Check(string[] settings)
    {
        var values = new Dictionary<string, string?> { ["LstmStream:Model:Path"] = RunningService.DemoModel, ["LstmStream:Sessions:Store"] = "none" };
        foreach (var setting in settings)
        {
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            values[setting[..equals]] = setting[(equals + 1)..];
        }

        return ServiceHostFactory.ReadAndCheck(new ConfigurationBuilder().AddInMemoryCollection(values).Build(), AppContext.BaseDirectory);
    }
}
