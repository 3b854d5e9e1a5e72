using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace LstmStream.Hosting.Operations;

/// <summary>
/// Guards the <c>/admin/…</c> paths: with an admin token configured, a request without
/// <c>Authorization: Bearer TOKEN</c> (compared in constant time) gets 401; and any request whose query names a
/// parameter twice (<c>?key=a&amp;key=b</c>) or holds percent-escapes that are not UTF-8 (<c>?key=%FF%FE</c>) gets 400
/// naming the parameter, instead of acting on a key nobody meant.
/// </summary>
public sealed class AdminRequestFilter : IEndpointFilter
{
    private readonly byte[]? _token;

    /// <param name="token">The admin token, or null when none is configured (then only the query is checked).</param>
    public AdminRequestFilter(string? token) => _token = token is null ? null : Encoding.UTF8.GetBytes(token);

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var request = context.HttpContext.Request;
        if (_token is not null && !Authorized(request.Headers.Authorization.ToString()))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return ValueTask.FromResult<object?>(Results.Json(new { error = "the admin path needs Authorization: Bearer TOKEN (LstmStream:Http:AdminToken)" },
                statusCode: StatusCodes.Status401Unauthorized));
        }

        if (QueryProblem(request.QueryString.Value) is { } problem)
            return ValueTask.FromResult<object?>(Results.Json(new { error = problem }, statusCode: StatusCodes.Status400BadRequest));
        return next(context);
    }

    private bool Authorized(string header)
    {
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        var given = Encoding.UTF8.GetBytes(header.AsSpan(scheme.Length).Trim().ToString());
        return CryptographicOperations.FixedTimeEquals(given, _token);
    }

    /// <summary>What is wrong with the raw query string (<c>?a=1&amp;b=2</c>), or null.</summary>
    internal static string? QueryProblem(string? query)
    {
        if (string.IsNullOrEmpty(query) || query == "?") return null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            var rawName = eq < 0 ? pair : pair[..eq];
            var rawValue = eq < 0 ? "" : pair[(eq + 1)..];
            if (Decode(rawName) is not { } name)
                return $"a query parameter name is not valid percent-encoded UTF-8: '{Shown(rawName)}'";
            if (Decode(rawValue) is null)
                return $"query parameter '{Shown(name)}' is not valid percent-encoded UTF-8: '{Shown(rawValue)}'";
            if (!seen.Add(name))
                return $"query parameter '{Shown(name)}' is given more than once; give it once";
        }

        return null;
    }

    /// <summary>Percent- and plus-decoded text, or null when the bytes are not strict UTF-8 or an escape is broken.</summary>
    private static string? Decode(string raw)
    {
        var bytes = new List<byte>(raw.Length);
        for (var i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c == '%')
            {
                if (i + 2 >= raw.Length || !Uri.IsHexDigit(raw[i + 1]) || !Uri.IsHexDigit(raw[i + 2])) return null;
                bytes.Add((byte)Convert.ToInt32(raw.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c == '+') bytes.Add((byte)' ');
            else if (c > 0x7f) return null;
            else bytes.Add((byte)c);
        }

        try
        {
            return new UTF8Encoding(false, true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static string Shown(string text) => LstmStream.Pipeline.Records.LoggedText.Of(text, 64);
}
