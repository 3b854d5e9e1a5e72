using System.Runtime.CompilerServices;

namespace LstmStream.Tests.Support;

/// <summary>
/// Settings every test run starts from. The shipped appsettings.json keeps durable sessions in
/// <c>data/lstmstream.db</c> under the working directory; tests that do not test the store must not share one file
/// (a key's seq from one test would make another test's records duplicates), so every service a test starts, in this
/// process or as a child process (which inherits the environment), runs without a store unless its command line
/// names one (the command line wins over the environment).
/// </summary>
internal static class TestProcessDefaults
{
    [ModuleInitializer]
    internal static void WithoutSessionStore() => Environment.SetEnvironmentVariable("LstmStream__Sessions__Store", "none");
}
