using Akka.Actor;
using LstmStream.Actors.Sessions;
using LstmStream.Hosting.Service;
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
/// The admin paths take a bearer token when one is configured and refuse ambiguous queries (<see cref="AdminRequestFilter"/>).
/// Both answer <c>{"key":K,"action":"drop"|"reset","live":true|false}</c> (false: K had no state). They are sent to
/// the pipeline's <see cref="LstmStream.Actors.Sessions.SessionAdminActor"/>, which carries them through the stream,
/// so they take effect between K's steps in arrival order.
/// </summary>
public static class OperationsEndpoints
{
    /// <summary>How long an admin request waits for its turn in the stream before answering 504.</summary>
    public static readonly TimeSpan AdminTimeout = TimeSpan.FromSeconds(10);

    /// <param name="adminToken">The bearer token every <c>/admin/…</c> request must send, or null for none.</param>
    public static void Map(IEndpointRouteBuilder app, string? adminToken)
    {
        app.MapGet("/health", (ServiceRuntime runtime) => runtime.IsHealthy
            ? Results.Json(new { status = "ok" })
            : Results.Json(new { status = "unavailable" }, statusCode: StatusCodes.Status503ServiceUnavailable));

        var admin = app.MapGroup("/admin").AddEndpointFilter(new AdminRequestFilter(adminToken));
        admin.MapGet("/counts", (PipelineHub hub, ServiceMetrics metrics) =>
        {
            if (!hub.IsRunning) return Results.Json(new { error = "the pipeline is not running" }, statusCode: StatusCodes.Status503ServiceUnavailable);
            var sessions = hub.Handle.Sessions;
            var links = hub.Links;
            return Results.Json(new
            {
                liveKeys = sessions.LiveKeys,
                keysCreated = sessions.KeysCreated,
                keysEnded = sessions.KeysEnded,
                keysEvicted = metrics.Evictions,
                batches = sessions.Batches,
                channels = links.Count,
                recordsInFlight = links.Sum(l => (long)l.Credit.InUse),
            });
        });

        admin.MapPost("/keys/drop", (string? key, ServiceRuntime runtime, CancellationToken aborted) =>
            KeyCommandAsync(key, runtime, "drop", k => new SessionAdminProtocol.DropKey(k), aborted));
        admin.MapPost("/keys/reset", (string? key, ServiceRuntime runtime, CancellationToken aborted) =>
            KeyCommandAsync(key, runtime, "reset", k => new SessionAdminProtocol.ResetKey(k), aborted));
    }

    private static async Task<IResult> KeyCommandAsync(string? key, ServiceRuntime runtime, string action, Func<string, object> command,
        CancellationToken aborted)
    {
        if (string.IsNullOrEmpty(key))
            return Results.Json(new { error = $"{action} needs ?key=KEY" }, statusCode: StatusCodes.Status400BadRequest);
        if (runtime.SessionAdmin is not { } admin || !runtime.IsHealthy)
            return Results.Json(new { error = "the pipeline is not running" }, statusCode: StatusCodes.Status503ServiceUnavailable);
        try
        {
            var result = await admin.Ask<SessionAdminProtocol.KeyCommandResult>(command(key), AdminTimeout, aborted).ConfigureAwait(false);
            return Results.Json(new { key, action, live = result.WasLive });
        }
        catch (AskTimeoutException)
        {
            return Results.Json(new { error = $"the {action} request did not reach the pipeline within {AdminTimeout.TotalSeconds} s (backpressure)" },
                statusCode: StatusCodes.Status504GatewayTimeout);
        }
        catch (TimeoutException)
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
