using LstmStream.Benchmarks;

namespace LstmStream.Tests.Support;

/// <summary>
/// A private PostgreSQL 15 server for one test class (<see cref="PrivatePostgreSqlServer"/>, shared with the
/// benchmarks): started before the class's tests, stopped and deleted after them.
/// </summary>
public sealed class PostgreSqlServer : PrivatePostgreSqlServer, IAsyncLifetime;
