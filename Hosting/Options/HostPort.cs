using System.Globalization;
using System.Net;

namespace LstmStream.Hosting.Options;

/// <summary>A <c>HOST:PORT</c> setting (<c>127.0.0.1:7878</c>, <c>[::1]:7878</c>, <c>localhost:7878</c>, <c>0.0.0.0:7878</c>).</summary>
public static class HostPort
{
    /// <summary>Parses <paramref name="text"/>; false with a reason when it is not an IP address (or localhost) and a port 0..65535.</summary>
    public static bool TryParse(string? text, out IPEndPoint endpoint, out string reason)
    {
        endpoint = null!;
        reason = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            reason = "is empty; expected HOST:PORT such as 127.0.0.1:7878";
            return false;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            reason = $"'{text}' is not HOST:PORT (such as 127.0.0.1:7878)";
            return false;
        }

        var host = text[..colon].Trim();
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
        {
            reason = $"'{text}' has no valid port (0..65535)";
            return false;
        }

        IPAddress address;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(host, out address!))
        {
            reason = $"'{text}': host '{host}' is not an IP address or localhost";
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }

    /// <summary>Parses a setting already checked by the validator.</summary>
    public static IPEndPoint Parse(string text) =>
        TryParse(text, out var endpoint, out var reason) ? endpoint : throw new FormatException(reason);

    public static string Format(IPEndPoint endpoint) => endpoint.ToString();
}
