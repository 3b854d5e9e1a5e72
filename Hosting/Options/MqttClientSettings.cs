namespace LstmStream.Hosting.Options;

/// <summary>
/// Settings of the MQTT ingress and egress: the broker, the topic the readings come on (the key is one level of
/// it), the topics outputs and errors go to, the QoS of both directions and how reconnecting works.
/// <para>
/// The ingress connects as <c>{ClientId}-in</c> and the egress as <c>{ClientId}-out</c> (one MQTT connection
/// each, so a slow subscriber never holds up publishing). With <see cref="PersistentSession"/> the broker keeps
/// the ingress's subscription and its QoS 1/2 messages while the service is away; two services with the same
/// <see cref="ClientId"/> on one broker then take each other's session, so give each its own.
/// </para>
/// </summary>
public sealed record MqttClientSettings
{
    /// <summary>The broker's host name or address.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The broker's TCP port.</summary>
    public int Port { get; init; } = 1883;

    /// <summary>Base of the client identifiers (<c>-in</c> and <c>-out</c> are appended).</summary>
    public string ClientId { get; init; } = "lstmstream";

    /// <summary>What the ingress subscribes to; each message is one reading <c>{"seq","x","reset","end"}</c>.</summary>
    public string TopicFilter { get; init; } = "sensors/+/reading";

    /// <summary>
    /// The 0-based level of the topic that names the key; null: the first <c>+</c> level of
    /// <see cref="TopicFilter"/> (level 1 of <c>sensors/+/reading</c>).
    /// </summary>
    public int? KeyLevel { get; init; }

    /// <summary>Where each output goes; <c>{key}</c> is replaced by the key.</summary>
    public string OutputTopicTemplate { get; init; } = "lstm/{key}/output";

    /// <summary>Where rejected readings are reported (one error record per rejected message).</summary>
    public string ErrorTopic { get; init; } = "lstm/errors";

    /// <summary>MQTT quality of service (0, 1 or 2) of the subscription and of every publish.</summary>
    public int Qos { get; init; } = 1;

    /// <summary>
    /// Ask the broker to keep the ingress's session (subscription and unacknowledged or queued QoS 1/2 messages)
    /// across disconnects (MQTT clean session off).
    /// </summary>
    public bool PersistentSession { get; init; } = true;

    /// <summary>
    /// How long the broker keeps the ingress's session (its subscription and the readings not yet acknowledged or not
    /// yet sent) after the service disconnected or died (MQTT 5 session expiry; with <see cref="PersistentSession"/>;
    /// whole seconds). Readings published while the service is away longer than this are lost.
    /// </summary>
    public TimeSpan SessionExpiry { get; init; } = TimeSpan.FromDays(1);

    /// <summary>
    /// MQTT 5 Receive Maximum of the ingress: the most QoS 1/2 readings the broker sends before earlier ones are
    /// acknowledged (1–65535, the protocol's ceiling). With acknowledgement after the checkpoint it must hold every
    /// reading of one checkpoint interval (rate × interval); at the limit the broker holds the rest back.
    /// </summary>
    public int ReceiveMaximum { get; init; } = 65535;

    /// <summary>Wait between connection attempts (at start and after the broker went away).</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>MQTT keep-alive: how soon a silent broker counts as gone.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Readings parsed and waiting for the pipeline; when full, the ingress stops taking messages from the
    /// broker (see <see cref="MqttRecordIngress"/> for what that means per QoS).
    /// </summary>
    public int IngressBuffer { get; init; } = 1024;

    /// <summary>Connect over TLS (the broker's certificate checked against <see cref="CaFile"/>, or the system's trust store).</summary>
    public bool UseTls { get; init; }

    /// <summary>PEM file of the CA(s) that issued the broker's certificate (TLS only); unset: the system's trust store.</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM client certificate presented to the broker (TLS only), with <see cref="ClientKeyFile"/>.</summary>
    public string? ClientCertificateFile { get; init; }

    /// <summary>PEM private key of <see cref="ClientCertificateFile"/>.</summary>
    public string? ClientKeyFile { get; init; }

    /// <summary>MQTT user name (with <see cref="Password"/> or <see cref="PasswordFile"/>, e.g. mosquitto's <c>password_file</c>).</summary>
    public string? Username { get; init; }

    /// <summary>The password, from the environment (<c>LstmStream__Mqtt__Client__Password</c>); never logged.</summary>
    public string? Password { get; init; }

    /// <summary>A file holding the password (instead of <see cref="Password"/>).</summary>
    public string? PasswordFile { get; init; }

    /// <summary>The password from <see cref="Password"/> or <see cref="PasswordFile"/>, or null.</summary>
    public string? ReadPassword(out string? problem) => SecretSetting.Read(Password, PasswordFile, "Mqtt:Client:Password", 1, out problem);

    /// <summary>The placeholder of <see cref="OutputTopicTemplate"/>.</summary>
    public const string KeyPlaceholder = "{key}";

    /// <summary>The level of the topic that names the key (<see cref="KeyLevel"/> or the first <c>+</c> level).</summary>
    public int EffectiveKeyLevel => KeyLevel ?? Array.IndexOf(TopicFilter.Split('/'), "+");

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting when one is missing or out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host)) throw Bad(nameof(Host), "must name the broker's host");
        if (Port is < 1 or > 65535) throw Bad(nameof(Port), $"must be a TCP port (1–65535), got {Port}");
        if (string.IsNullOrWhiteSpace(ClientId)) throw Bad(nameof(ClientId), "must not be empty");
        if (Qos is < 0 or > 2) throw Bad(nameof(Qos), $"must be 0, 1 or 2, got {Qos}");
        if (ReconnectDelay <= TimeSpan.Zero) throw Bad(nameof(ReconnectDelay), $"must be positive, got {ReconnectDelay}");
        if (KeepAlive <= TimeSpan.Zero) throw Bad(nameof(KeepAlive), $"must be positive, got {KeepAlive}");
        if (IngressBuffer <= 0) throw Bad(nameof(IngressBuffer), $"must be positive, got {IngressBuffer}");
        if (ReceiveMaximum is < 1 or > ushort.MaxValue)
            throw Bad(nameof(ReceiveMaximum), $"must be within 1..65535 (MQTT 5 Receive Maximum), got {ReceiveMaximum}");
        if (PersistentSession && (SessionExpiry < TimeSpan.FromSeconds(1) || SessionExpiry.TotalSeconds > uint.MaxValue))
            throw Bad(nameof(SessionExpiry), $"must be at least 1 s (and at most {uint.MaxValue} s) with PersistentSession=true, got {SessionExpiry}");
        ValidateSecurity();

        if (MqttTopics.FilterProblem(TopicFilter) is { } filterProblem) throw Bad(nameof(TopicFilter), filterProblem);
        var levels = TopicFilter.Split('/');
        if (KeyLevel is { } level)
        {
            if (level < 0) throw Bad(nameof(KeyLevel), $"must not be negative, got {level}");
            var multi = Array.IndexOf(levels, "#");
            var coveredByHash = multi >= 0 && level >= multi;
            if (!coveredByHash && (level >= levels.Length || levels[level] != "+"))
                throw Bad(nameof(KeyLevel), $"level {level} of '{TopicFilter}' is {(level < levels.Length ? $"'{levels[level]}'" : "beyond its end")}, not a '+' or '#' level that varies with the key");
        }
        else if (EffectiveKeyLevel < 0)
        {
            throw Bad(nameof(KeyLevel), $"'{TopicFilter}' has no '+' level to take the key from; set {nameof(KeyLevel)}");
        }

        if (MqttTopics.NameProblem(ErrorTopic) is { } errorProblem) throw Bad(nameof(ErrorTopic), errorProblem);
        if (!OutputTopicTemplate.Contains(KeyPlaceholder, StringComparison.Ordinal))
            throw Bad(nameof(OutputTopicTemplate), $"must contain {KeyPlaceholder}, got '{OutputTopicTemplate}'");
        var sampleOutput = OutputTopicTemplate.Replace(KeyPlaceholder, "k", StringComparison.Ordinal);
        if (MqttTopics.NameProblem(sampleOutput) is { } outputProblem) throw Bad(nameof(OutputTopicTemplate), outputProblem);

        // Outputs or errors that land back on the ingress would be read as (bad) readings, in a loop.
        if (MqttTopics.Matches(TopicFilter, sampleOutput))
            throw Bad(nameof(OutputTopicTemplate), $"'{OutputTopicTemplate}' matches the {nameof(TopicFilter)} '{TopicFilter}': outputs would come back as readings");
        if (MqttTopics.Matches(TopicFilter, ErrorTopic))
            throw Bad(nameof(ErrorTopic), $"'{ErrorTopic}' matches the {nameof(TopicFilter)} '{TopicFilter}': errors would come back as readings");
    }

    private void ValidateSecurity()
    {
        if (!UseTls)
        {
            if (!string.IsNullOrWhiteSpace(CaFile)) throw Bad(nameof(CaFile), "needs UseTls=true");
            if (!string.IsNullOrWhiteSpace(ClientCertificateFile)) throw Bad(nameof(ClientCertificateFile), "needs UseTls=true");
        }

        if (!string.IsNullOrWhiteSpace(ClientCertificateFile) && string.IsNullOrWhiteSpace(ClientKeyFile))
            throw Bad(nameof(ClientKeyFile), "must name the private key of ClientCertificateFile");
        foreach (var (setting, file) in new[] { (nameof(CaFile), CaFile), (nameof(ClientCertificateFile), ClientCertificateFile), (nameof(ClientKeyFile), ClientKeyFile) })
        {
            if (!string.IsNullOrWhiteSpace(file) && !File.Exists(file)) throw Bad(setting, $"'{file}' does not exist");
        }

        ReadPassword(out var problem);
        if (problem is not null) throw new ArgumentException(problem.Replace("Mqtt:Client:", "Mqtt:", StringComparison.Ordinal), nameof(Password));
        if ((!string.IsNullOrEmpty(Password) || !string.IsNullOrWhiteSpace(PasswordFile)) && string.IsNullOrWhiteSpace(Username))
            throw Bad(nameof(Username), "must be set when a password is");
    }

    private static ArgumentException Bad(string setting, string reason) => new($"Mqtt:{setting} {reason}", setting);
}
