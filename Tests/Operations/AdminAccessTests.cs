using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LstmStream.Hosting.Operations;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Operations;

/// <summary>The admin path's bearer token and its refusal of ambiguous queries, on the running service.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class AdminAccessTests : IDisposable
{
    private const string Token = "s3cret-admin-token-0123456789";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _tokenFile = Path.Combine(Path.GetTempPath(), $"lstmstream-admin-{Guid.NewGuid():N}.token");

    public void Dispose() => File.Delete(_tokenFile);

    [Fact]
    public async Task With_a_token_configured_admin_requests_need_it_and_metrics_and_health_stay_open()
    {
        await File.WriteAllTextAsync(_tokenFile, Token + "\n");
        await using var service = await RunningService.StartAsync($"--LstmStream:Http:AdminTokenFile={_tokenFile}");
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };

        var none = await http.GetAsync("admin/counts");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Post, "admin/keys/drop?key=a", "wrong-token-0123456789")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Get, "admin/counts", Token + "x")).StatusCode);

        var counts = await Send(http, HttpMethod.Get, "admin/counts", Token);
        Assert.Equal(HttpStatusCode.OK, counts.StatusCode);
        Assert.Equal(0, JsonDocument.Parse(await counts.Content.ReadAsStringAsync()).RootElement.GetProperty("liveKeys").GetInt32());
        var drop = await Send(http, HttpMethod.Post, "admin/keys/drop?key=a", Token);
        Assert.Equal(HttpStatusCode.OK, drop.StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("metrics")).StatusCode);
        Assert.DoesNotContain(service.Logs, l => l.Contains(Token, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("admin/keys/drop?key=a&key=b", "query parameter 'key' is given more than once; give it once")]
    [InlineData("admin/keys/reset?key=%FF%FE", "query parameter 'key' is not valid percent-encoded UTF-8: '%FF%FE'")]
    public async Task Repeated_or_undecodable_query_parameters_are_refused_with_400(string path, string error)
    {
        await using var service = await RunningService.StartAsync();
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };

        var response = await http.PostAsync(path, null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(error, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("?key=sensor%2F7&x=1", null)]
    [InlineData("?key=caf%C3%A9+2", null)]
    [InlineData("?a=1&b=2&a=3", "query parameter 'a' is given more than once; give it once")]
    [InlineData("?k%FF=1", "a query parameter name is not valid percent-encoded UTF-8: 'k%FF'")]
    [InlineData("?key=%E", "query parameter 'key' is not valid percent-encoded UTF-8: '%E'")]
    [InlineData("?key=%C3", "query parameter 'key' is not valid percent-encoded UTF-8: '%C3'")]
    public void The_query_check_decodes_percent_escapes_strictly(string query, string? problem)
    {
        Assert.Equal(problem, AdminRequestFilter.QueryProblem(query));
    }

    [Theory]
    [InlineData("short", "LstmStream:Http:AdminTokenFile: the secret must be at least 16 characters long")]
    [InlineData(null, "LstmStream:Http:AdminTokenFile: cannot read")]
    public async Task A_token_file_that_is_missing_or_too_short_stops_the_start_naming_the_setting(string? content, string error)
    {
        if (content is not null) await File.WriteAllTextAsync(_tokenFile, content);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningService.StartAsync($"--LstmStream:Http:AdminTokenFile={_tokenFile}"));

        Assert.Contains(error, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_given_twice_stops_the_start()
    {
        await File.WriteAllTextAsync(_tokenFile, Token);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RunningService.StartAsync($"--LstmStream:Http:AdminTokenFile={_tokenFile}", $"--LstmStream:Http:AdminToken={Token}"));

        Assert.Contains("Http:AdminToken and Http:AdminTokenFile are both set", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, e.Message, StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> Send(HttpClient http, HttpMethod method, string path, string token)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http.SendAsync(request);
    }
}
