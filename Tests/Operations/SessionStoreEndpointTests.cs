using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LstmStream.Actors.Persistence;
using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Service;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Actors.Persistence;
using LstmStream.Tests.Service;
using Microsoft.Extensions.DependencyInjection;

namespace LstmStream.Tests.Operations;

/// <summary>
/// <c>serve</c> with a SQLite session store: the store is opened through the one AddAkka call, the admin path exports,
/// imports and checkpoints, and a restart with another bucket count is refused. The pipeline's checkpoint source is
/// stood in for by <see cref="FakeCheckpointSource"/> (the pipeline side of durable sessions is built apart).
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class SessionStoreEndpointTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-serve-store-{Guid.NewGuid():N}");

    [Fact]
    public async Task The_admin_path_reads_imports_and_checkpoints_keys_and_a_restart_with_another_bucket_count_is_refused()
    {
        var file = Path.Combine(_folder, "sessions.db");
        FakeCheckpointSource? source = null;
        await using (var service = await RunningService.StartAsync(
                         builder => builder.Services.AddSingleton<Func<PipelineStateAccess, ICheckpointSource>>(sp =>
                             _ => source = new FakeCheckpointSource(sp.GetRequiredService<SessionStoreService>().Store!)),
                         $"--LstmStream:Sessions:Store={file}", "--LstmStream:Sessions:Buckets=16"))
        {
            Assert.True(File.Exists(file));
            Assert.Contains("SQLite", service.Runtime.StartupLine, StringComparison.Ordinal);
            using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
            Assert.Contains("\"ok\"", await http.GetStringAsync("health"), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("admin/keys/nobody")).StatusCode);

            // A live key: put in over the admin path, read back as it is in the pipeline.
            var identity = service.Hub.Handle.State.ModelIdentity;
            var exported = await ExportedFromAStepAsync(service, http);
            Assert.Equal(identity, exported.ModelIdentity);
            var put = await http.PutAsJsonAsync("admin/keys/imported", exported with { Key = null, LastSeq = 7 }, KeyStateDocument.Json);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var imported = await http.GetFromJsonAsync<KeyStateDocument>("admin/keys/imported", KeyStateDocument.Json);
            Assert.True(imported!.Live);
            Assert.Equal(exported.C, imported.C);
            Assert.Equal(exported.H, imported.H);
            var bad = await http.PutAsJsonAsync("admin/keys/imported", exported with { Key = null, ModelIdentity = "another-model" }, KeyStateDocument.Json);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("another-model", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            // A stored key: exported by a checkpoint (from the stand-in source), read from the store.
            // JSON carries NaN without its payload ("NaN"), so this state has none; every other bit pattern comes through.
            var stored = StoredSessions.State("stored-key", 5, 42, identity: identity);
            foreach (var row in stored.C.Concat(stored.H)) row[0] = row[1] = 0.125f;
            source!.Step(stored);
            var checkpoint = JsonDocument.Parse(await (await http.PostAsync("admin/checkpoint", null)).Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(1, checkpoint.GetProperty("keys").GetInt32());
            Assert.Equal(1, checkpoint.GetProperty("buckets").GetInt32());
            var fromStore = await http.GetFromJsonAsync<KeyStateDocument>("admin/keys/stored-key", KeyStateDocument.Json);
            Assert.False(fromStore!.Live);
            StoredSessions.AssertBitwiseEqual(stored, fromStore.ToState("stored-key"));

            var metrics = await http.GetStringAsync("metrics");
            Assert.Contains("lstmstream_sessions_checkpoints_total", metrics, StringComparison.Ordinal);
            Assert.Contains("lstmstream_sessions_store_degraded", metrics, StringComparison.Ordinal);
            Assert.Equal(0, await service.StopAsync());
        }

        var error = new StringWriter();
        var code = await ServiceRunner.RunAsync([$"--LstmStream:Model:Path={RunningService.DemoModel}", "--LstmStream:Math:Backend=managed",
            "--LstmStream:Simulator:Enabled=false", "--LstmStream:Tcp:Endpoint=127.0.0.1:0", $"--LstmStream:Http:Endpoint=127.0.0.1:{RunningService.FreePort()}",
            $"--LstmStream:Sessions:Store={file}", "--LstmStream:Sessions:Buckets=32"], error);
        Assert.Equal(ServiceRunner.StartFailed, code);
        Assert.Contains("LstmStream:Sessions:Store", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("16 buckets, but LstmStream:Sessions:Buckets is 32", error.ToString(), StringComparison.Ordinal);
    }

    private static async Task<KeyStateDocument> ExportedFromAStepAsync(RunningService service, HttpClient http)
    {
        using (var client = await service.ConnectAsync())
        {
            var replies = await NdjsonClient.ExchangeAsync(client, [NdjsonClient.Record("stepped", 1, 0.5f, -1, 2, 0.25f)], Timeout);
            Assert.Single(replies);
        }

        var document = await http.GetFromJsonAsync<KeyStateDocument>("admin/keys/stepped", KeyStateDocument.Json);
        Assert.True(document!.Live);
        Assert.Equal("stepped", document.Key);
        return document;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
