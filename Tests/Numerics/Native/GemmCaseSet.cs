namespace LstmStream.Tests.Numerics.Native;

/// <summary>
/// The shared reference cases, computed once per test run (with and without bias) and reused by every
/// backend and thread count: row counts 1..40, three rotating shapes each, over odd, SIMD-edge, tall, wide and
/// the wide model's (K, N); plus a few large multiplies.
/// </summary>
internal static class GemmCaseSet
{
    private static readonly (int K, int N)[] Shapes =
    [
        (1, 1), (1, 7), (3, 5), (7, 33), (17, 16), (33, 129), (64, 256), (129, 515), (300, 97), (1000, 3), (5, 2049), (288, 1024),
    ];

    private static readonly (int M, int K, int N)[] LargeCases = [(127, 288, 1024), (512, 129, 515), (1031, 33, 257), (4096, 17, 64)];

    private static readonly Lazy<IReadOnlyList<GemmCase>> WithBias = new(() => Build(true));
    private static readonly Lazy<IReadOnlyList<GemmCase>> WithoutBias = new(() => Build(false));

    public static IReadOnlyList<GemmCase> Get(bool withBias) => withBias ? WithBias.Value : WithoutBias.Value;

    private static IReadOnlyList<GemmCase> Build(bool withBias)
    {
        var random = new Random(withBias ? 101 : 202);
        var cases = new List<GemmCase>();
        for (var m = 1; m <= 40; m++)
        {
            for (var s = 0; s < 3; s++)
            {
                var (k, n) = Shapes[(m * 3 + s) % Shapes.Length];
                cases.Add(GemmCase.Create(random, m, k, n, withBias));
            }
        }

        foreach (var (m, k, n) in LargeCases) cases.Add(GemmCase.Create(random, m, k, n, withBias));
        return cases;
    }
}
