using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics.Native;

namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// The math backends by configuration name (<c>Math:Backend</c>): <c>auto</c> (default), <c>managed</c>,
/// <c>mkl</c>, <c>openblas</c> or <c>onednn</c>: the accepted names, whether each concrete backend can be
/// created here (<see cref="Probe"/>), and a new instance with a thread count (<see cref="Create"/>). A named
/// native backend whose library cannot be loaded throws <see cref="MatMulBackendUnavailableException"/> naming
/// the files tried and the package that provides them. <c>auto</c> is not one backend but a policy over the
/// available ones (<see cref="AutoMatMulPolicy"/>); <see cref="CreateForModel"/> takes either.
/// </summary>
public static class MatMulBackendRegistry
{
    /// <summary>Each matrix's fastest available backend, measured at model load.</summary>
    public const string Auto = TunedMatMul.BackendName;

    /// <summary>The managed SIMD kernel (always available).</summary>
    public const string Managed = "managed";

    /// <summary>Intel MKL (<c>libmkl_rt</c>), when installed.</summary>
    public const string Mkl = MklMatMul.BackendName;

    /// <summary>OpenBLAS, when installed.</summary>
    public const string OpenBlas = OpenBlasMatMul.BackendName;

    /// <summary>oneDNN (<c>libdnnl</c>), when installed.</summary>
    public const string OneDnn = OneDnnMatMul.BackendName;

    /// <summary>Every accepted configuration name.</summary>
    public static IReadOnlyList<string> Names { get; } = [Auto, Managed, Mkl, OpenBlas, OneDnn];

    /// <summary>The backends that <c>auto</c> chooses between, in order of preference on a tie.</summary>
    public static IReadOnlyList<string> ConcreteNames { get; } = [Managed, Mkl, OpenBlas, OneDnn];

    /// <summary>The configuration name in canonical form; throws for an unknown name, listing the known ones.</summary>
    public static string Normalize(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var canonical = name.Trim().ToLowerInvariant();
        return Names.Contains(canonical)
            ? canonical
            : throw new ArgumentException($"unknown math backend '{name}'; expected one of {string.Join(", ", Names)}", nameof(name));
    }

    /// <summary>Whether the concrete backend <paramref name="name"/> can be created here, and if not, why.</summary>
    public static MatMulBackendAvailability Probe(string name)
    {
        var canonical = Normalize(name);
        string reason;
        bool available;
        switch (canonical)
        {
            case Managed:
                return new MatMulBackendAvailability(canonical, true, "");
            case Mkl:
                available = MklMatMul.IsAvailable(out reason);
                break;
            case OpenBlas:
                available = OpenBlasMatMul.IsAvailable(out reason);
                break;
            case OneDnn:
                available = OneDnnMatMul.IsAvailable(out reason);
                break;
            default:
                throw new ArgumentException($"'{Auto}' is not a single backend; probe {string.Join(", ", ConcreteNames)}", nameof(name));
        }

        return new MatMulBackendAvailability(canonical, available, reason);
    }

    /// <summary><see cref="Probe"/> for every concrete backend.</summary>
    public static IReadOnlyList<MatMulBackendAvailability> ProbeAll() => ConcreteNames.Select(Probe).ToArray();

    /// <summary>
    /// A new instance of the concrete backend <paramref name="name"/> using <paramref name="threads"/> threads.
    /// </summary>
    /// <exception cref="MatMulBackendUnavailableException">Its native library cannot be loaded.</exception>
    /// <exception cref="ArgumentException">Unknown name, or <c>auto</c> (which needs matrix shapes: use <see cref="CreateForModel"/> or <see cref="MatMulAutotuner"/>).</exception>
    public static IMatMulBackend Create(string name, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        return Normalize(name) switch
        {
            Managed => new ManagedMatMul(threads),
            Mkl => new MklMatMul(threads),
            OpenBlas => new OpenBlasMatMul(threads),
            OneDnn => new OneDnnMatMul(threads),
            _ => throw new ArgumentException(
                $"'{Auto}' is tuned per matrix shape; create it with {nameof(CreateForModel)} or {nameof(MatMulAutotuner)}", nameof(name)),
        };
    }

    /// <summary>A new instance of every concrete backend available here, in <see cref="ConcreteNames"/> order (managed first).</summary>
    public static IReadOnlyList<IMatMulBackend> CreateAvailable(int threads = 1) =>
        ProbeAll().Where(p => p.IsAvailable).Select(p => Create(p.Name, threads)).ToArray();

    /// <summary>
    /// Backends for every matrix of <paramref name="model"/> by configuration name: for a named backend, one new
    /// instance (<see cref="Create"/>) shared by every layer and the head; for <c>auto</c>, the
    /// choice of <see cref="AutoMatMulPolicy"/> (tuned per layer on this machine, within
    /// <see cref="MatMulAutotuneOptions.ModelBudget"/> of <paramref name="options"/>).
    /// </summary>
    /// <exception cref="MatMulBackendUnavailableException">A named backend's native library cannot be loaded.</exception>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static ModelMatMulBackends CreateForModel(string name, int threads, LstmModel model, MatMulAutotuneOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        var canonical = Normalize(name);
        if (canonical == Auto) return AutoMatMulPolicy.Choose(model, threads, options);

        var shared = Create(canonical, threads);
        var shapes = ModelMatMulBackends.Shapes(model);
        var choices = shapes.Select(s => $"{s.Label} [{s.K}x{s.N}]: {canonical}, {threads} thread{(threads == 1 ? "" : "s")}").ToArray();
        return ModelMatMulBackends.FromMatrices(model, shapes.Select(_ => shared).ToArray(), choices);
    }
}
