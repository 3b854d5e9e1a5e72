namespace LstmStream.Hosting.Options;

/// <summary>
/// A secret in configuration: given either as a value (for an environment variable such as
/// <c>LstmStream__Http__AdminToken</c>, never a file in the repository) or as the path of a file that holds it (a
/// systemd credential, a mounted Kubernetes secret; one trailing newline is ignored). The value is never logged.
/// </summary>
public static class SecretSetting
{
    /// <summary>
    /// The secret named by <paramref name="key"/> (value) and <paramref name="key"/>File (path), or null when neither
    /// is set. <paramref name="problem"/> says what is wrong (both set, file missing or empty, too short) naming the
    /// setting, without the secret.
    /// </summary>
    public static string? Read(string? value, string? file, string key, int minLength, out string? problem)
    {
        problem = null;
        bool hasValue = !string.IsNullOrEmpty(value), hasFile = !string.IsNullOrWhiteSpace(file);
        if (hasValue && hasFile)
        {
            problem = $"{key} and {key}File are both set; give the secret one way";
            return null;
        }

        string? secret = value;
        if (hasFile)
        {
            try
            {
                secret = File.ReadAllText(file!).TrimEnd('\n').TrimEnd('\r');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"{key}File: cannot read '{file}': {e.Message}";
                return null;
            }
        }
        else if (!hasValue)
        {
            return null;
        }

        if (string.IsNullOrEmpty(secret) || secret.Length < minLength)
        {
            problem = $"{(hasFile ? key + "File" : key)}: the secret must be at least {minLength} characters long";
            return null;
        }

        return secret;
    }
}
