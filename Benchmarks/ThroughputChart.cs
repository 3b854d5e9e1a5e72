using System.Globalization;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;

namespace LstmStream.Benchmarks;

/// <summary>
/// The benchmark table as one SVG chart (OxyPlot, pure managed): a panel per workload and thread count, steps/s
/// (log scale) by key count, the engines' bars side by side in each key-count group and the GEMM ceiling as a
/// line across the groups, one legend for all panels on top.
/// </summary>
internal static class ThroughputChart
{
    private const double PanelWidth = 600;
    private const double PanelHeight = 380;
    private const double HeaderHeight = 70;
    private const string Font = "Arial";

    /// <summary>Bar engines in legend order, each with its colour in every panel.</summary>
    private static readonly (string Engine, OxyColor Color)[] BarEngines =
    [
        (Engines.Core, OxyColor.FromRgb(0x1f, 0x77, 0xb4)),
        (Engines.Stream, OxyColor.FromRgb(0x2c, 0xa0, 0x2c)),
        (Engines.Run, OxyColor.FromRgb(0x9c, 0xcc, 0x65)),
        (Engines.OrtBatched, OxyColor.FromRgb(0xff, 0x7f, 0x0e)),
        (Engines.OrtPerKey, OxyColor.FromRgb(0xd6, 0x27, 0x28)),
    ];

    private static readonly OxyColor CeilingColor = OxyColors.Black;

    /// <summary>The SVG file beside the JSON results: <c>bench-results.json</c> → <c>bench-results.svg</c>.</summary>
    public static string PathBeside(string jsonPath) => Path.ChangeExtension(jsonPath, ".svg");

    /// <summary>Writes the chart of <paramref name="rows"/> to <paramref name="path"/>; returns the number of panels.</summary>
    public static int Write(IReadOnlyList<ResultRow> rows, string title, string path)
    {
        var panels = rows
            .GroupBy(r => (r.Workload, r.Threads))
            .OrderBy(g => WorkloadOrder(rows, g.Key.Workload)).ThenBy(g => g.Key.Threads)
            .ToList();
        if (panels.Count == 0) throw new ArgumentException("no result rows to chart", nameof(rows));
        var columns = panels.Select(p => p.Key.Threads).Distinct().Count();
        var rowCount = (panels.Count + columns - 1) / columns;
        var width = columns * PanelWidth;
        var height = HeaderHeight + rowCount * PanelHeight;

        using var stream = File.Create(path);
        // The PDF context measures text with built-in font metrics: no native library, no installed fonts.
        var measurer = new PdfRenderContext(width, height, OxyColors.White);
        using (var context = new SvgRenderContext(stream, width, height, true, measurer, OxyColors.White, true))
        {
            DrawHeader(context, title, width, rows.Any(r => r.Engine == Engines.Ceiling));
            for (var i = 0; i < panels.Count; i++)
            {
                var model = Panel(panels[i].Key.Workload, panels[i].Key.Threads, panels[i].ToList());
                IPlotModel plot = model;
                plot.Update(true);
                plot.Render(context, new OxyRect(i % columns * PanelWidth, HeaderHeight + i / columns * PanelHeight, PanelWidth, PanelHeight));
            }

            context.Complete();
        }

        return panels.Count;
    }

    private static PlotModel Panel(string workload, int threads, List<ResultRow> rows)
    {
        var keys = rows.Select(r => r.Keys).Distinct().Order().ToList();
        var model = new PlotModel
        {
            Title = $"{workload}, {threads} thread{(threads == 1 ? "" : "s")}",
            TitleFontSize = 15,
            DefaultFont = Font,
            Padding = new OxyThickness(8, 8, 16, 8),
            PlotAreaBorderColor = OxyColor.FromRgb(0x99, 0x99, 0x99),
        };
        var categories = new CategoryAxis
        {
            Position = AxisPosition.Bottom,
            Title = "keys",
            Key = "keys",
            GapWidth = 0.35,
            IsPanEnabled = false,
            IsZoomEnabled = false,
        };
        categories.Labels.AddRange(keys.Select(k => k.ToString("N0", CultureInfo.InvariantCulture)));
        model.Axes.Add(categories);

        var values = rows.Select(r => r.StepsPerSecond).Where(v => v > 0).ToList();
        var minimum = Math.Pow(10, Math.Floor(Math.Log10(values.Min() * 0.9)));
        var maximum = values.Max() * 1.6;
        model.Axes.Add(new LogarithmicAxis
        {
            Position = AxisPosition.Left,
            Title = "steps/s",
            Key = "steps",
            Minimum = minimum,
            Maximum = maximum,
            MajorGridlineStyle = LineStyle.Solid,
            MajorGridlineColor = OxyColor.FromRgb(0xdd, 0xdd, 0xdd),
            MinorGridlineStyle = LineStyle.None,
            LabelFormatter = Abbreviate,
            // Room for renderers whose fallback font is wider than the metrics the layout was measured with.
            AxisTitleDistance = 10,
            IsPanEnabled = false,
            IsZoomEnabled = false,
        });

        foreach (var (engine, color) in BarEngines)
        {
            var ofEngine = rows.Where(r => r.Engine == engine).ToDictionary(r => r.Keys, r => r.StepsPerSecond);
            if (ofEngine.Count == 0) continue;
            var bars = new BarSeries
            {
                Title = engine,
                FillColor = color,
                BaseValue = minimum,
                XAxisKey = "steps",
                YAxisKey = "keys",
            };
            // A key count this engine was not measured at leaves its place in the group empty.
            for (var i = 0; i < keys.Count; i++)
                if (ofEngine.TryGetValue(keys[i], out var v)) bars.Items.Add(new BarItem(v) { CategoryIndex = i });
            model.Series.Add(bars);
        }

        var ceiling = rows.Where(r => r.Engine == Engines.Ceiling).ToDictionary(r => r.Keys, r => r.StepsPerSecond);
        if (ceiling.Count > 0)
        {
            var line = new LineSeries
            {
                Title = "GEMM ceiling",
                Color = CeilingColor,
                StrokeThickness = 2,
                LineStyle = LineStyle.Dash,
                MarkerType = MarkerType.Circle,
                MarkerSize = 4,
                MarkerFill = CeilingColor,
                XAxisKey = "keys",
                YAxisKey = "steps",
            };
            for (var i = 0; i < keys.Count; i++)
                if (ceiling.TryGetValue(keys[i], out var v)) line.Points.Add(new DataPoint(i, v));
            model.Series.Add(line);
        }

        model.IsLegendVisible = false;
        return model;
    }

    /// <summary>Title and the one legend for every panel.</summary>
    private static void DrawHeader(IRenderContext context, string title, double width, bool withCeiling)
    {
        context.DrawText(new ScreenPoint(width / 2, 10), title, OxyColors.Black, Font, 17, FontWeights.Bold, 0,
            HorizontalAlignment.Center, VerticalAlignment.Top);
        var entries = BarEngines.Select(e => (e.Engine, e.Color, Line: false)).ToList();
        if (withCeiling) entries.Add(("GEMM ceiling", CeilingColor, true));
        const double swatch = 14, gap = 26, fontSize = 13;
        // Measured with Arial's metrics; a third more leaves room for a wider fallback font.
        var widths = entries.Select(e => swatch + 6 + 1.35 * context.MeasureText(e.Item1, Font, fontSize, FontWeights.Normal).Width).ToList();
        var x = (width - widths.Sum() - gap * (entries.Count - 1)) / 2;
        const double y = 42;
        for (var i = 0; i < entries.Count; i++)
        {
            var (label, color, isLine) = entries[i];
            if (isLine)
            {
                context.DrawLine([new ScreenPoint(x, y + swatch / 2), new ScreenPoint(x + swatch, y + swatch / 2)], color, 2,
                    EdgeRenderingMode.Automatic, [4, 2]);
            }
            else
            {
                context.DrawRectangle(new OxyRect(x, y, swatch, swatch), color, OxyColors.Undefined, 0, EdgeRenderingMode.Automatic);
            }

            context.DrawText(new ScreenPoint(x + swatch + 6, y + swatch / 2), label, OxyColors.Black, Font, fontSize, FontWeights.Normal, 0,
                HorizontalAlignment.Left, VerticalAlignment.Middle);
            x += widths[i] + gap;
        }
    }

    /// <summary>1,000 → 1k, 2,500,000 → 2.5M.</summary>
    internal static string Abbreviate(double value)
    {
        // Log-axis ticks arrive as 999.99999…: rounded first, that is 1k.
        var rounded = Math.Round(value, 3);
        return rounded switch
        {
            >= 1e9 => Short(rounded / 1e9) + "G",
            >= 1e6 => Short(rounded / 1e6) + "M",
            >= 1e3 => Short(rounded / 1e3) + "k",
            _ => Short(rounded),
        };

        static string Short(double x) => x.ToString("0.#", CultureInfo.InvariantCulture);
    }

    /// <summary>Workloads in the order the run measured them.</summary>
    private static int WorkloadOrder(IReadOnlyList<ResultRow> rows, string workload)
    {
        for (var i = 0; i < rows.Count; i++)
            if (rows[i].Workload == workload) return i;
        return rows.Count;
    }
}
