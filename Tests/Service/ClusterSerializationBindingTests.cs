using Akka.Actor;
using Akka.Hosting;
using LstmStream.Actors.Cluster;
using LstmStream.Tests.Actors.Cluster;
using Microsoft.Extensions.DependencyInjection;

namespace LstmStream.Tests.Service;

/// <summary>
/// The service's own cluster configuration (one <c>AddAkka</c>): the messages between nodes bound to the compact serializer,
/// the split-brain setting applied.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class ClusterSerializationBindingTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("lstmstream-cluster-binding-").FullName;

    [Fact]
    public async Task The_cluster_writes_every_message_between_nodes_with_the_compact_serializer_and_its_frame_limit()
    {
        await using var service = await RunningService.StartAsync(
            "--LstmStream:Cluster:Enabled=true", $"--LstmStream:Cluster:Port={RunningService.FreePort()}",
            $"--LstmStream:Sessions:Store={Path.Combine(_folder, "s.db")}");
        var system = service.App.Services.GetRequiredService<ActorSystem>();
        var replyTo = service.App.Services.GetRequiredService<ActorRegistry>().Get<RoutedOutputsActor>();

        foreach (var type in ClusterMessageSerializer.BoundTypes)
        {
            var message = ClusterMessageSamples.Of(type, replyTo);
            var serializer = system.Serialization.FindSerializerFor(message);
            Assert.True(serializer is ClusterMessageSerializer, $"{type.Name} is written by {serializer.GetType().Name}");
        }

        // Through Akka's serialization as remoting does it: serializer id and manifest, the reply address resolved back.
        var sent = (RoutedRecords)ClusterMessageSamples.Of(typeof(RoutedRecords), replyTo);
        var serialized = system.Serialization.FindSerializerFor(sent);
        var bytes = serialized.ToBinary(sent);
        var back = (RoutedRecords)system.Serialization.Deserialize(bytes, ClusterMessageSerializer.SerializerId, Akka.Serialization.Serialization.ManifestFor(serialized, sent));
        Assert.Equal(replyTo, back.ReplyTo);
        Assert.Equal(sent.Keys, back.Keys);
        Assert.Equal(sent.Data, back.Data);

        Assert.Equal(RoutedMessageSize.MaxFrameBytes, system.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
        Assert.Equal(0, await service.StopAsync());
    }

    [Theory]
    [InlineData("off", "")]
    [InlineData("keep-majority", "keep-majority")]
    [InlineData("keep-oldest", "keep-oldest")]
    public async Task The_split_brain_setting_chooses_the_downing_of_the_cluster(string setting, string strategy)
    {
        await using var service = await RunningService.StartAsync(
            "--LstmStream:Cluster:Enabled=true", $"--LstmStream:Cluster:Port={RunningService.FreePort()}", $"--LstmStream:Cluster:SplitBrain={setting}",
            $"--LstmStream:Sessions:Store={Path.Combine(_folder, $"{setting}.db")}");
        var config = service.App.Services.GetRequiredService<ActorSystem>().Settings.Config;

        var provider = config.GetString("akka.cluster.downing-provider-class");
        if (strategy.Length == 0) Assert.True(string.IsNullOrEmpty(provider), $"downing provider '{provider}' with SplitBrain off");
        else
        {
            Assert.Contains("SplitBrainResolverProvider", provider, StringComparison.Ordinal);
            Assert.Equal(strategy, config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        }

        Assert.Equal(0, await service.StopAsync());
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
