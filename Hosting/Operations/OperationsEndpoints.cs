using Akka.Actor;
using Akka.Hosting;
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
/// <item><c>GET /health</c> — 200 <c>{"status":"ok"}</c> while the pipeline runs, 503 otherwise (also while stopping)</item>
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
    public static void Map(IEndpointRouteBuilder app, string? adminToken)
    {
        app.MapGet("/health", (IServiceHealth health) => health.IsHealthy
            ? Results.Json(new { status = "ok" })
            : Results.Json(new { status = "unavailable" }, statusCode: StatusCodes.Status503ServiceUnavailable));

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

        admin.MapPost("/keys/drop", (string? key, IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, CancellationToken aborted) =>
            KeyCommandAsync(key, health, owner, "drop", k => new SessionAdminProtocol.DropKey(k), aborted));
        admin.MapPost("/keys/reset", (string? key, IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, CancellationToken aborted) =>
            KeyCommandAsync(key, health, owner, "reset", k => new SessionAdminProtocol.ResetKey(k), aborted));
    }

    private static Task<IResult> KeyCommandAsync(string? key, IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, string action,
        Func<string, SessionAdminProtocol.IRequest> command, CancellationToken aborted)
    {
        if (string.IsNullOrEmpty(key))
            return Task.FromResult(Results.Json(new { error = $"{action} needs ?key=KEY" }, statusCode: StatusCodes.Status400BadRequest));
        return AskAsync(health, owner, action, command(key),
            (SessionAdminProtocol.KeyCommandResult result) => Results.Json(new { key, action, live = result.WasLive }), aborted);
    }

    /// <summary>Asks the owner; 503 when the service is not healthy or the pipeline refuses, 504 when the request waited too long.</summary>
    private static async Task<IResult> AskAsync<TAnswer>(IServiceHealth health, IRequiredActor<PipelineOwnerActor> owner, string action,
        SessionAdminProtocol.IRequest request, Func<TAnswer, IResult> answer, CancellationToken aborted)
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
