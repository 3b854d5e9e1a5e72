using Akka.Actor;
using System.Text.Json;
using Akka.Hosting;
using LstmStream.Actors.Persistence;
using LstmStream.Actors.Pipelines;
using LstmStream.Actors.Sessions;
using LstmStream.Pipeline.Streaming;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// The loopback HTTP paths besides <c>/metrics</c>:
/// <list type="bullet">
/// <item><c>GET /health</c> — 200 <c>{"status":"ok"}</c> while the pipeline runs (<c>"degraded"</c> while the session store
/// cannot be written: serving goes on), 503 otherwise (also while stopping)</item>
/// <item><c>GET /admin/keys/{key}</c> — the key's state (<see cref="KeyStateDocument"/>: live, or else stored), 404 when it has none</item>
/// <item><c>PUT /admin/keys/{key}</c> — puts a <see cref="KeyStateDocument"/> into the pipeline (same model only)</item>
/// <item><c>POST /admin/checkpoint</c> — takes a checkpoint of durable sessions, answers once it is written</item>
/// <item><c>GET /admin/cluster</c> — cluster mode: members and their status, shards and buckets per member, live keys per member (<see cref="ClusterStatus"/>)</item>
/// <item><c>GET /admin/counts</c> — live keys, keys created / ended, evictions, batches, channels, records in flight</item>
/// <item><c>POST /admin/keys/drop?key=K</c> — discards K's state (its next step starts from zero as a new key)</item>
/// <item><c>POST /admin/keys/reset?key=K</c> — zeroes K's state and keeps K live</item>
/// </list>
/// Drop and reset answer <c>{"key":K,"action":"drop"|"reset","live":true|false}</c> (false: K had no state). Every
/// admin request is sent to the <see cref="PipelineOwnerActor"/>, which hands it to the pipeline's sessions; they
/// carry it through the stream, so it takes effect (and counts are taken) between the steps in arrival order.
/// With a token configured they take a bearer token, and they refuse ambiguous queries (<see cref="AdminRequestFilter"/>).
/// </summary>
public static class OperationsEndpoints
{
    /// <summary>How long an admin request waits for its turn in the stream before answering 504.</summary>
    public static readonly TimeSpan AdminTimeout = TimeSpan.FromSeconds(10);

    /// <param name="adminToken">The bearer token every <c>/admin/…</c> request must send, or null for none.</param>
    /// <param name="shards">Cluster mode: <c>LstmStream:Cluster:Shards</c>.</param>
    /// <param name="buckets"><c>LstmStream:Sessions:Buckets</c>.</param>
    public static void Map(IEndpointRouteBuilder app, string? adminToken, int shards = 1, int buckets = 1)
    {
        app.MapGet("/health", (IServiceHealth health) => !health.IsHealthy
            ? Results.Json(new { status = "unavailable" }, statusCode: StatusCodes.Status503ServiceUnavailable)
            : health.IsDegraded
                ? Results.Json(new { status = "degraded", reason = "the session store could not be written by the last checkpoint; retrying" })
                : Results.Json(new { status = "ok" }));

        var admin = app.MapGroup("/admin").AddEndpointFilter(new AdminRequestFilter(adminToken));
        admin.MapGet("/counts", (IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, IChannelLoad channels, CancellationToken aborted) =>
            AskAsync(health, owner, "counts", SessionAdminProtocol.GetCounts.Instance, (SessionCounts counts) => Results.Json(new
            {
                liveKeys = counts.LiveKeys,
                keysCreated = counts.KeysCreated,
                keysEnded = counts.KeysEnded,
                keysEvicted = counts.Evicted,
                batches = counts.Batches,
                channels = channels.Channels,
                recordsInFlight = channels.RecordsInFlight,
            }), aborted));

        admin.MapGet("/cluster", (ActorSystem system, ActorRegistry registry, CancellationToken aborted) =>
            ClusterStatus.GetAsync(system, registry, shards, buckets, aborted));

        admin.MapGet("/keys/{key}", async (string key, IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, ISessionStoreAccess store,
            CancellationToken aborted) =>
        {
            var live = await AskAsync(health, owner, "export", new SessionAdminProtocol.ExportKey(key),
                (SessionAdminProtocol.ExportedKey exported) => exported.State is null ? null : Document(exported.State, live: true), aborted);
            if (live is not null) return live;
            var stored = await store.GetStoredAsync(key, aborted).ConfigureAwait(false);
            return stored is null
                ? Results.Json(new { error = $"key '{key}' has no state (not live{(store.Enabled ? ", not stored" : "")})" }, statusCode: StatusCodes.Status404NotFound)
                : Document(stored, live: false);
        });
        admin.MapPut("/keys/{key}", async (string key, HttpRequest request, IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner,
            CancellationToken aborted) =>
        {
            KeyState state;
            try
            {
                var document = await JsonSerializer.DeserializeAsync<KeyStateDocument>(request.Body, KeyStateDocument.Json, aborted).ConfigureAwait(false);
                state = (document ?? throw new ArgumentException("the body is empty")).ToState(key);
            }
            catch (Exception e) when (e is JsonException or ArgumentException)
            {
                return Results.Json(new { error = $"key '{key}': {e.Message}" }, statusCode: StatusCodes.Status400BadRequest);
            }

            try
            {
                return await AskAsync(health, owner, "import", new SessionAdminProtocol.ImportKey(state),
                    (SessionAdminProtocol.ImportedKey imported) => Results.Json(new { key = imported.Key, action = "import" }), aborted);
            }
            catch (ArgumentException e)
            {
                return Results.Json(new { error = e.Message }, statusCode: StatusCodes.Status400BadRequest);
            }
        });
        admin.MapPost("/checkpoint", async (IServiceHealth health, ISessionStoreAccess store, CancellationToken aborted) =>
        {
            if (!store.Enabled)
                return Results.Json(new { error = "no session store is configured (LstmStream:Sessions:Store is none)" }, statusCode: StatusCodes.Status409Conflict);
            if (!health.IsHealthy)
                return Results.Json(new { error = "the pipeline is not running" }, statusCode: StatusCodes.Status503ServiceUnavailable);
            try
            {
                var done = await store.CheckpointAsync(CheckpointTimeout, aborted).ConfigureAwait(false);
                return Results.Json(new { keys = done.Keys, buckets = done.Buckets, bytes = done.Bytes, milliseconds = done.Duration.TotalMilliseconds });
            }
            catch (Exception e) when (e is SessionStoreException or AskTimeoutException)
            {
                return Results.Json(new { error = e.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });

        admin.MapPost("/keys/drop", (string? key, IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, CancellationToken aborted) =>
            KeyCommandAsync(key, health, owner, "drop", k => new SessionAdminProtocol.DropKey(k), aborted));
        admin.MapPost("/keys/reset", (string? key, IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, CancellationToken aborted) =>
            KeyCommandAsync(key, health, owner, "reset", k => new SessionAdminProtocol.ResetKey(k), aborted));
    }

    /// <summary>How long <c>POST /admin/checkpoint</c> waits for the checkpoint to be written.</summary>
    public static readonly TimeSpan CheckpointTimeout = TimeSpan.FromMinutes(2);

    private static IResult Document(KeyState state, bool live) => Results.Json(KeyStateDocument.From(state, live), KeyStateDocument.Json);

    private static Task<IResult> KeyCommandAsync(string? key, IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, string action,
        Func<string, SessionAdminProtocol.IRequest> command, CancellationToken aborted)
    {
        if (string.IsNullOrEmpty(key))
            return Task.FromResult(Results.Json(new { error = $"{action} needs ?key=KEY" }, statusCode: StatusCodes.Status400BadRequest));
        return AskAsync(health, owner, action, command(key),
            (SessionAdminProtocol.KeyCommandResult result) => Results.Json(new { key, action, live = result.WasLive }), aborted)!;
    }

    /// <summary>Asks the owner; 503 when the service is not healthy or the pipeline refuses, 504 when the request waited too long.</summary>
    private static async Task<IResult?> AskAsync<TAnswer>(IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, string action,
        SessionAdminProtocol.IRequest request, Func<TAnswer, IResult?> answer, CancellationToken aborted)
    {
        if (!health.IsHealthy)
            return Results.Json(new { error = "the pipeline is not running" }, statusCode: StatusCodes.Status503ServiceUnavailable);
        try
        {
            var actor = await owner.GetAsync(aborted).ConfigureAwait(false);
            return answer(await actor.Ask<TAnswer>(request, AdminTimeout, aborted).ConfigureAwait(false));
        }
        catch (Exception e) when (e is AskTimeoutException or TimeoutException)
        {
            return Results.Json(new { error = $"the {action} request did not reach the pipeline within {AdminTimeout.TotalSeconds} s (backpressure)" },
                statusCode: StatusCodes.Status504GatewayTimeout);
        }
        catch (InvalidOperationException e)
        {
            return Results.Json(new { error = e.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}
