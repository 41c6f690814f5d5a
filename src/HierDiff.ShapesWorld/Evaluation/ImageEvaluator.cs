using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Evaluation;

/// <summary>
/// An image's score against a prompt: the mean of the scores of the attributes the prompt names, each of those
/// attribute scores (keys from <see cref="ImageEvaluator.AttributeNames"/>), and the scene read from the pixels.
/// </summary>
public sealed record ImageScore(double Score, IReadOnlyDictionary<string, double> Attributes, Scene Read);

/// <summary>
/// What the evaluator reads from an image: for each attribute a probability for each value (indexed by the enum's
/// value; they sum to 1), the most probable scene, and the shape's area in pixels. Where no shape stands out from the
/// background, <see cref="ShapeFound"/> is false, every shape attribute's probabilities are 0 (so a prompt scores 0 on
/// them) and <see cref="Scene"/> has the background read and placeholder shape attributes.
/// </summary>
public sealed record ImageReading(
    bool ShapeFound,
    IReadOnlyList<double> ShapeColour,
    IReadOnlyList<double> Background,
    IReadOnlyList<double> Kind,
    IReadOnlyList<double> Size,
    IReadOnlyList<double> Position,
    IReadOnlyList<double> Pattern,
    Scene Scene,
    int ShapeArea)
{
    /// <summary>The probability of what <paramref name="prompt"/> says of <paramref name="attribute"/>; null where
    /// the prompt leaves it unsaid.</summary>
    public double? Probability(string attribute, SceneDescription prompt) => attribute switch
    {
        ImageEvaluator.ShapeColourName => ShapeColour[(int)prompt.ShapeColour],
        ImageEvaluator.BackgroundName => prompt.Background is Colour b ? Background[(int)b] : null,
        ImageEvaluator.KindName => Kind[(int)prompt.Kind],
        ImageEvaluator.SizeName => prompt.Size is ShapeSize s ? Size[(int)s] : null,
        ImageEvaluator.PositionName => prompt.Position is Position p ? Position[(int)p] : null,
        ImageEvaluator.PatternName => prompt.Pattern is Pattern t ? Pattern[(int)t] : null,
        _ => throw new ArgumentException($"unknown attribute '{attribute}'", nameof(attribute)),
    };
}

/// <summary>
/// Scores a 64 x 64 RGB image of the shapes world against a prompt's description from the pixels alone, robustly
/// enough for a model's noisy, blurry images:
/// <list type="bullet">
/// <item>background: the per-channel median of the two-pixel border, against each palette colour;</item>
/// <item>shape: first the pixels far from that colour in a 3 x 3 blurred copy, whose inner pixels tell the shape's
/// colour; then the pixels nearer that colour (anywhere from its main colour to its shade) than the background,
/// without isolated pixels, the largest connected part with its holes filled;</item>
/// <item>kind: the overlap (IoU) of a circle, square and triangle of the shape's area placed at its centroid
/// (searched a little around it);</item>
/// <item>size: the shape's area against the small and large areas of each kind; position: the fitted centre against
/// the five centres;</item>
/// <item>shape colour: the palette colour whose line from main colour to shade (<see cref="Palette.Shade"/>) best
/// explains the shape's inner pixels;</item>
/// <item>pattern: where each inner pixel lies between main colour and shade, folded onto the patterns' 6 x 6 period,
/// against the four patterns (at every phase, sharp or blurred by 3 x 3).</item>
/// </list>
/// Each attribute's score is a softmax over its values of such a fit, so a clear match is near 1, a clear mismatch
/// near 0, and an unclear image in between.
/// </summary>
public static class ImageEvaluator
{
    public const string ShapeColourName = "shape_colour";
    public const string BackgroundName = "background";
    public const string KindName = "kind";
    public const string SizeName = "size";
    public const string PositionName = "position";
    public const string PatternName = "pattern";

    /// <summary>The attribute keys of <see cref="ImageScore.Attributes"/> and scores.json, in this order.</summary>
    public static readonly IReadOnlyList<string> AttributeNames = [ShapeColourName, BackgroundName, KindName, SizeName, PositionName, PatternName];

    private const int N = SceneRenderer.Size;
    private const int Period = 6;

    // Colours: softmax of -d^2 / (2 sigma^2) (d in 0-255 units).
    private const double ColourSigma = 25;

    // Rough mask: distance from the background colour in the blurred copy above this (the world's closest pair, a
    // green shade on black, is 66 apart). Fewer pixels than MinShapeArea: no shape. The pattern is read two pixels
    // in from the edge where that leaves MinInnerPixels.
    private const double MaskThreshold = 30;
    private const int MinShapeArea = 16;
    private const int MinInnerPixels = 80;

    // Kind: softmax of IoU / temperature (a circle and a square of the same area overlap with IoU ~0.83).
    private const double KindTemperature = 0.03;

    // Size: Gaussian in log area (small and large differ by ln 3.5 = 1.25).
    private const double SizeSigma = 0.25;

    // Position: Gaussian in pixels (the centres are 15.5 px apart).
    private const double PositionSigma = 4;

    // Pattern: softmax of -(mean squared misfit of the folded 6 x 6 profile) / temperature.
    private const double PatternTemperature = 0.005;
    private const double MinPatternGain = 0.85;
    private const double MaxPatternOffset = 0.2;

    private static readonly double[][][] PatternPrototypes = MakePatternPrototypes();

    /// <summary>Scores <paramref name="rgb"/> (64 x 64, RGB, row by row) against what <paramref name="prompt"/> says.</summary>
    public static ImageScore Score(ReadOnlySpan<byte> rgb, SceneDescription prompt) => Score(Read(rgb), prompt);

    /// <summary>Scores a reading against what <paramref name="prompt"/> says.</summary>
    public static ImageScore Score(ImageReading reading, SceneDescription prompt)
    {
        ArgumentNullException.ThrowIfNull(reading);
        ArgumentNullException.ThrowIfNull(prompt);
        var attributes = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string name in AttributeNames)
        {
            if (reading.Probability(name, prompt) is double p)
            {
                attributes[name] = p;
            }
        }

        return new ImageScore(attributes.Values.Average(), attributes, reading.Scene);
    }

    /// <summary>Reads every attribute of <paramref name="rgb"/> (64 x 64, RGB, row by row).</summary>
    public static ImageReading Read(ReadOnlySpan<byte> rgb)
    {
        if (rgb.Length != N * N * 3)
        {
            throw new ArgumentException($"expected {N} x {N} RGB ({N * N * 3} bytes), got {rgb.Length} bytes", nameof(rgb));
        }

        var px = new double[N * N * 3];
        for (int i = 0; i < px.Length; i++)
        {
            px[i] = rgb[i];
        }

        (double R, double G, double B) background = BorderMedian(px);
        double[] backgroundProbs = ColourPosterior(background);
        var backgroundRead = (Colour)ArgMax(backgroundProbs);

        if (ShapeMask(px, background) is not (bool[] mask, double[] colourProbs))
        {
            return NotFound(backgroundProbs, backgroundRead);
        }

        int area = Count(mask);

        // Geometry: each kind fitted at the centroid with the shape's area.
        double mx = 0, my = 0;
        for (int y = 0; y < N; y++)
        {
            for (int x = 0; x < N; x++)
            {
                if (mask[(y * N) + x])
                {
                    mx += x + 0.5;
                    my += y + 0.5;
                }
            }
        }

        mx /= area;
        my /= area;
        var kinds = Enum.GetValues<ShapeKind>();
        var fits = new (double Iou, double X, double Y)[kinds.Length];
        for (int k = 0; k < kinds.Length; k++)
        {
            fits[k] = FitKind(mask, kinds[k], area, mx, my);
        }

        double[] kindProbs = Softmax(fits.Select(f => f.Iou / KindTemperature).ToArray());
        var sizes = Enum.GetValues<ShapeSize>();
        var positions = Enum.GetValues<Position>();
        var sizeProbs = new double[sizes.Length];
        var positionProbs = new double[positions.Length];
        for (int k = 0; k < kinds.Length; k++)
        {
            double[] s = Softmax(sizes.Select(size =>
            {
                double z = Math.Log(area / ExpectedArea(kinds[k], SceneRenderer.Radius(size))) / SizeSigma;
                return -0.5 * z * z;
            }).ToArray());
            double[] p = Softmax(positions.Select(position =>
            {
                (double cx, double cy) = SceneRenderer.Centre(position);
                double dx = fits[k].X - cx, dy = fits[k].Y - cy;
                return -((dx * dx) + (dy * dy)) / (2 * PositionSigma * PositionSigma);
            }).ToArray());
            for (int i = 0; i < s.Length; i++)
            {
                sizeProbs[i] += kindProbs[k] * s[i];
            }

            for (int i = 0; i < p.Length; i++)
            {
                positionProbs[i] += kindProbs[k] * p[i];
            }
        }

        // The pattern from the inner pixels (the edge mixes with the background in a blurry image).
        var colourRead = (Colour)ArgMax(colourProbs);
        double[] patternProbs = PatternPosterior(px, Inner(mask, everyPhase: true), colourRead);

        var scene = new Scene(
            (ShapeKind)ArgMax(kindProbs), colourRead, backgroundRead, (ShapeSize)ArgMax(sizeProbs), (Position)ArgMax(positionProbs),
            (Pattern)ArgMax(patternProbs));
        return new ImageReading(true, colourProbs, backgroundProbs, kindProbs, sizeProbs, positionProbs, patternProbs, scene, area);
    }

    /// <summary>
    /// A feature vector of unit length for comparing images (diversity): the share of pixels nearest each palette
    /// colour and shade (16 values), then an 8 x 8 thumbnail centred on mid-grey (192 values); each part scaled to
    /// unit length before the whole is.
    /// </summary>
    public static double[] Features(ReadOnlySpan<byte> rgb)
    {
        if (rgb.Length != N * N * 3)
        {
            throw new ArgumentException($"expected {N} x {N} RGB ({N * N * 3} bytes), got {rgb.Length} bytes", nameof(rgb));
        }

        var anchors = new List<(byte R, byte G, byte B)>();
        foreach (Colour c in Palette.All)
        {
            anchors.Add(Palette.Rgb(c));
            anchors.Add(Palette.Shade(c));
        }

        const int Thumb = 8;
        const int Block = N / Thumb;
        var histogram = new double[anchors.Count];
        var thumb = new double[Thumb * Thumb * 3];
        for (int y = 0; y < N; y++)
        {
            for (int x = 0; x < N; x++)
            {
                int i = ((y * N) + x) * 3;
                int best = 0;
                double bestD = double.MaxValue;
                for (int a = 0; a < anchors.Count; a++)
                {
                    double d = Square(rgb[i] - anchors[a].R) + Square(rgb[i + 1] - anchors[a].G) + Square(rgb[i + 2] - anchors[a].B);
                    if (d < bestD)
                    {
                        bestD = d;
                        best = a;
                    }
                }

                histogram[best] += 1;
                int t = ((((y / Block) * Thumb) + (x / Block)) * 3);
                for (int c = 0; c < 3; c++)
                {
                    thumb[t + c] += (rgb[i + c] / 255.0) - 0.5;
                }
            }
        }

        Normalise(histogram);
        Normalise(thumb);
        double[] features = [.. histogram, .. thumb];
        Normalise(features);
        return features;
    }

    /// <summary>Cosine similarity of two feature vectors.</summary>
    public static double Cosine(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException("feature vectors differ in length");
        }

        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            ab += a[i] * b[i];
            aa += a[i] * a[i];
            bb += b[i] * b[i];
        }

        return aa == 0 || bb == 0 ? 0 : ab / Math.Sqrt(aa * bb);
    }

    private static ImageReading NotFound(double[] backgroundProbs, Colour backgroundRead)
    {
        var scene = new Scene(ShapeKind.Circle, backgroundRead == Colour.Red ? Colour.Orange : Colour.Red, backgroundRead, ShapeSize.Small, Position.Center, Pattern.Solid);
        return new ImageReading(
            false,
            new double[Palette.All.Count],
            backgroundProbs,
            new double[Enum.GetValues<ShapeKind>().Length],
            new double[Enum.GetValues<ShapeSize>().Length],
            new double[Enum.GetValues<Position>().Length],
            new double[Enum.GetValues<Pattern>().Length],
            scene,
            0);
    }

    private static (double R, double G, double B) BorderMedian(double[] px)
    {
        var channels = new List<double>[] { [], [], [] };
        for (int y = 0; y < N; y++)
        {
            for (int x = 0; x < N; x++)
            {
                if (x < 2 || y < 2 || x >= N - 2 || y >= N - 2)
                {
                    int i = ((y * N) + x) * 3;
                    for (int c = 0; c < 3; c++)
                    {
                        channels[c].Add(px[i + c]);
                    }
                }
            }
        }

        return (Median(channels[0]), Median(channels[1]), Median(channels[2]));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : 0.5 * (values[(n / 2) - 1] + values[n / 2]);
    }

    private static double[] ColourPosterior((double R, double G, double B) colour)
    {
        var logits = new double[Palette.All.Count];
        for (int c = 0; c < logits.Length; c++)
        {
            (byte r, byte g, byte b) = Palette.Rgb((Colour)c);
            double d2 = Square(colour.R - r) + Square(colour.G - g) + Square(colour.B - b);
            logits[c] = -d2 / (2 * ColourSigma * ColourSigma);
        }

        return Softmax(logits);
    }

    /// <summary>
    /// The shape's pixels and the colour posterior they give, or null where nothing stands out from the background.
    /// First the pixels of a 3 x 3 blurred copy far from the background (largest connected part, holes filled); their
    /// inner pixels give the shape's colour; then the shape is the pixels nearer that colour's main-to-shade segment
    /// than the background (so a blurred edge counts where it is more shape than background), despeckled, the largest
    /// connected part with its holes filled.
    /// </summary>
    private static (bool[] Mask, double[] ColourProbs)? ShapeMask(double[] px, (double R, double G, double B) background)
    {
        double[] filtered = Box3x3(px);
        var toBackground = new double[N * N];
        for (int i = 0; i < toBackground.Length; i++)
        {
            toBackground[i] = Math.Sqrt(
                Square(filtered[i * 3] - background.R) + Square(filtered[(i * 3) + 1] - background.G) + Square(filtered[(i * 3) + 2] - background.B));
        }

        bool[] rough = FillHoles(LargestComponent(toBackground.Select(d => d > MaskThreshold).ToArray()));
        if (Count(rough) < MinShapeArea)
        {
            return null;
        }

        var colour = (Colour)ArgMax(ShapeColourPosterior(px, Inner(rough)));
        Segment segment = new(colour);
        var shape = new bool[N * N];
        for (int i = 0; i < shape.Length; i++)
        {
            double r = px[i * 3], g = px[(i * 3) + 1], b = px[(i * 3) + 2];
            shape[i] = Square(r - background.R) + Square(g - background.G) + Square(b - background.B) > segment.Distance2(r, g, b);
        }

        shape = Despeckle(shape);
        bool[] mask = FillHoles(LargestComponent(shape));
        if (Count(mask) < MinShapeArea)
        {
            return null;
        }

        return (mask, ShapeColourPosterior(px, Inner(mask)));
    }

    /// <summary>
    /// The pixels well inside a mask, clear of a blurred edge: two pixels in where that leaves enough, else one (8
    /// neighbours in the mask, or 4), else the mask itself. With <paramref name="everyPhase"/>, also deep enough only
    /// while the pixels still cover every cell of the patterns' 6 x 6 period (a tiny shape's dots may all lie near its
    /// edge).
    /// </summary>
    private static bool[] Inner(bool[] mask, bool everyPhase = false)
    {
        bool[] one = Erode(mask, diagonal: true);
        (bool[] Pixels, int MinCount)[] levels = [(Erode(one, diagonal: true), MinInnerPixels), (one, MinShapeArea), (Erode(mask, diagonal: false), MinShapeArea)];
        foreach ((bool[] pixels, int minCount) in levels)
        {
            if (Count(pixels) >= minCount && (!everyPhase || CoversEveryPhase(pixels)))
            {
                return pixels;
            }
        }

        return mask;
    }

    private static bool CoversEveryPhase(bool[] pixels)
    {
        var seen = new bool[Period * Period];
        for (int i = 0; i < pixels.Length; i++)
        {
            if (pixels[i])
            {
                seen[((i / N % Period) * Period) + (i % N % Period)] = true;
            }
        }

        return seen.All(s => s);
    }

    /// <summary>The colours a shape of one palette colour takes: its main colour (t = 0) to its shade (t = 1).</summary>
    private readonly struct Segment
    {
        private readonly double _r, _g, _b, _vr, _vg, _vb, _vv;

        public Segment(Colour colour)
        {
            (byte mr, byte mg, byte mb) = Palette.Rgb(colour);
            (byte sr, byte sg, byte sb) = Palette.Shade(colour);
            (_r, _g, _b) = (mr, mg, mb);
            (_vr, _vg, _vb) = (sr - mr, sg - mg, sb - mb);
            _vv = (_vr * _vr) + (_vg * _vg) + (_vb * _vb);
        }

        /// <summary>Where a colour projects on the line from main colour (0) to shade (1), unclamped.</summary>
        public double T(double r, double g, double b) => (((r - _r) * _vr) + ((g - _g) * _vg) + ((b - _b) * _vb)) / _vv;

        /// <summary>Squared distance from the segment.</summary>
        public double Distance2(double r, double g, double b)
        {
            double t = Math.Clamp(T(r, g, b), 0, 1);
            return Square(r - _r - (t * _vr)) + Square(g - _g - (t * _vg)) + Square(b - _b - (t * _vb));
        }
    }

    /// <summary>A 3 x 3 box blur (edges clamped), done as two 3-tap passes.</summary>
    private static double[] Box3x3(double[] px)
    {
        var rows = new double[px.Length];
        var result = new double[px.Length];
        const int Stride = N * 3;
        for (int y = 0; y < N; y++)
        {
            int row = y * Stride;
            for (int x = 0; x < N; x++)
            {
                int left = row + (Math.Max(x - 1, 0) * 3), centre = row + (x * 3), right = row + (Math.Min(x + 1, N - 1) * 3);
                rows[centre] = px[left] + px[centre] + px[right];
                rows[centre + 1] = px[left + 1] + px[centre + 1] + px[right + 1];
                rows[centre + 2] = px[left + 2] + px[centre + 2] + px[right + 2];
            }
        }

        for (int y = 0; y < N; y++)
        {
            int up = Math.Max(y - 1, 0) * Stride, row = y * Stride, down = Math.Min(y + 1, N - 1) * Stride;
            for (int i = 0; i < Stride; i++)
            {
                result[row + i] = (rows[up + i] + rows[row + i] + rows[down + i]) / 9;
            }
        }

        return result;
    }

    /// <summary>One pass against isolated pixels: a pixel turns true with at least 5 of its 8 neighbours true, false
    /// with at most 2 (a square's corner has 3).</summary>
    private static bool[] Despeckle(bool[] mask)
    {
        var result = new bool[mask.Length];
        for (int y = 0; y < N; y++)
        {
            for (int x = 0; x < N; x++)
            {
                int around = 0;
                for (int dy = -1; dy <= 1; dy++)
                {
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int yy = y + dy, xx = x + dx;
                        if ((dx != 0 || dy != 0) && yy >= 0 && yy < N && xx >= 0 && xx < N && mask[(yy * N) + xx])
                        {
                            around++;
                        }
                    }
                }

                int i = (y * N) + x;
                result[i] = mask[i] ? around > 2 : around >= 5;
            }
        }

        return result;
    }

    /// <summary>The largest 4-connected set of true pixels.</summary>
    private static bool[] LargestComponent(bool[] mask)
    {
        var label = new int[mask.Length];
        var queue = new int[mask.Length];
        int best = 0, bestSize = 0, next = 0;
        for (int start = 0; start < mask.Length; start++)
        {
            if (!mask[start] || label[start] != 0)
            {
                continue;
            }

            next++;
            label[start] = next;
            queue[0] = start;
            int head = 0, tail = 1;
            while (head < tail)
            {
                int i = queue[head++];
                int x = i % N, y = i / N;
                tail = Visit(mask, true, label, next, queue, tail, x > 0 ? i - 1 : -1);
                tail = Visit(mask, true, label, next, queue, tail, x < N - 1 ? i + 1 : -1);
                tail = Visit(mask, true, label, next, queue, tail, y > 0 ? i - N : -1);
                tail = Visit(mask, true, label, next, queue, tail, y < N - 1 ? i + N : -1);
            }

            if (tail > bestSize)
            {
                bestSize = tail;
                best = next;
            }
        }

        var result = new bool[mask.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = best != 0 && label[i] == best;
        }

        return result;
    }

    /// <summary>Adds every false pixel that the border cannot reach through false pixels.</summary>
    private static bool[] FillHoles(bool[] mask)
    {
        var outside = new int[mask.Length];
        var queue = new int[mask.Length];
        int tail = 0;
        for (int i = 0; i < mask.Length; i++)
        {
            int x = i % N, y = i / N;
            if (x == 0 || y == 0 || x == N - 1 || y == N - 1)
            {
                tail = Visit(mask, false, outside, 1, queue, tail, i);
            }
        }

        for (int head = 0; head < tail; head++)
        {
            int i = queue[head];
            int x = i % N, y = i / N;
            tail = Visit(mask, false, outside, 1, queue, tail, x > 0 ? i - 1 : -1);
            tail = Visit(mask, false, outside, 1, queue, tail, x < N - 1 ? i + 1 : -1);
            tail = Visit(mask, false, outside, 1, queue, tail, y > 0 ? i - N : -1);
            tail = Visit(mask, false, outside, 1, queue, tail, y < N - 1 ? i + N : -1);
        }

        var result = new bool[mask.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = outside[i] == 0;
        }

        return result;
    }

    /// <summary>Labels and queues pixel <paramref name="j"/> (if any) when its mask value is <paramref name="value"/> and it has no label yet.</summary>
    private static int Visit(bool[] mask, bool value, int[] label, int id, int[] queue, int tail, int j)
    {
        if (j >= 0 && mask[j] == value && label[j] == 0)
        {
            label[j] = id;
            queue[tail++] = j;
        }

        return tail;
    }

    private static int Count(bool[] mask)
    {
        int n = 0;
        foreach (bool m in mask)
        {
            if (m)
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>The pixels whose 4 (or, with <paramref name="diagonal"/>, 8) neighbours are all in the mask.</summary>
    private static bool[] Erode(bool[] mask, bool diagonal)
    {
        var result = new bool[mask.Length];
        for (int i = 0; i < mask.Length; i++)
        {
            int x = i % N, y = i / N;
            result[i] = mask[i] && x > 0 && y > 0 && x < N - 1 && y < N - 1 && mask[i - 1] && mask[i + 1] && mask[i - N] && mask[i + N]
                && (!diagonal || (mask[i - N - 1] && mask[i - N + 1] && mask[i + N - 1] && mask[i + N + 1]));
        }

        return result;
    }

    /// <summary>A shape's area for a radius, as <see cref="SceneRenderer.Inside"/> draws it.</summary>
    private static double ExpectedArea(ShapeKind kind, double r) => kind switch
    {
        ShapeKind.Circle => Math.PI * r * r,
        ShapeKind.Square => Square(2 * 0.886 * r),
        _ => 2 * r * r,
    };

    /// <summary>
    /// The best IoU of a <paramref name="kind"/> of the mask's area with the mask, placed at its centroid (a triangle's
    /// centre is a third of its radius above its centroid) and moved and scaled a little; and where its centre is.
    /// </summary>
    private static (double Iou, double X, double Y) FitKind(bool[] mask, ShapeKind kind, int area, double mx, double my)
    {
        double r0 = Math.Sqrt(area / ExpectedArea(kind, 1));
        double cy0 = kind == ShapeKind.Triangle ? my - (r0 / 3) : my;
        (double Iou, double X, double Y) best = (-1, mx, cy0);
        for (int oy = -1; oy <= 1; oy++)
        {
            for (int ox = -1; ox <= 1; ox++)
            {
                double cx = mx + (0.5 * ox), cy = cy0 + (0.5 * oy);
                double iou = Iou(mask, area, kind, cx, cy, r0);
                if (iou > best.Iou)
                {
                    best = (iou, cx, cy);
                }
            }
        }

        foreach (double scale in (double[])[0.95, 1.05])
        {
            best = (Math.Max(best.Iou, Iou(mask, area, kind, best.X, best.Y, r0 * scale)), best.X, best.Y);
        }

        return best;
    }

    private static double Iou(bool[] mask, int area, ShapeKind kind, double cx, double cy, double r)
    {
        // Outside the template's box only the mask counts (towards the union).
        int x0 = Math.Max(0, (int)Math.Floor(cx - r - 1)), x1 = Math.Min(N - 1, (int)Math.Ceiling(cx + r + 1));
        int y0 = Math.Max(0, (int)Math.Floor(cy - r - 1)), y1 = Math.Min(N - 1, (int)Math.Ceiling(cy + r + 1));
        int intersection = 0, template = 0;
        for (int y = y0; y <= y1; y++)
        {
            for (int x = x0; x <= x1; x++)
            {
                if (SceneRenderer.Inside(kind, x + 0.5 - cx, y + 0.5 - cy, r))
                {
                    template++;
                    if (mask[(y * N) + x])
                    {
                        intersection++;
                    }
                }
            }
        }

        int union = area + template - intersection;
        return union == 0 ? 0 : (double)intersection / union;
    }

    /// <summary>
    /// For each palette colour, the mean over the shape's inner pixels of the squared distance from the segment
    /// between the colour and its shade (capped, so a few stray pixels do not decide), as a softmax.
    /// </summary>
    private static double[] ShapeColourPosterior(double[] px, bool[] inner)
    {
        const double Cap = 100 * 100;
        var logits = new double[Palette.All.Count];
        int count = Math.Max(1, Count(inner));
        for (int c = 0; c < logits.Length; c++)
        {
            Segment segment = new((Colour)c);
            double cost = 0;
            for (int i = 0; i < inner.Length; i++)
            {
                if (inner[i])
                {
                    cost += Math.Min(segment.Distance2(px[i * 3], px[(i * 3) + 1], px[(i * 3) + 2]), Cap);
                }
            }

            logits[c] = -(cost / count) / (2 * ColourSigma * ColourSigma);
        }

        return Softmax(logits);
    }

    /// <summary>
    /// Where each inner pixel lies from the main colour (0) to the shade (1), averaged per cell of the patterns' 6 x 6
    /// period, against each pattern's profile at every phase, sharp or blurred (with a small offset and a gain of
    /// 0.85-1 fitted, for a model's slightly-off colours and softer contrast).
    /// </summary>
    private static double[] PatternPosterior(double[] px, bool[] inner, Colour colour)
    {
        Segment segment = new(colour);
        var sum = new double[Period * Period];
        var count = new int[Period * Period];
        double total = 0;
        int totalCount = 0;
        for (int i = 0; i < inner.Length; i++)
        {
            if (!inner[i])
            {
                continue;
            }

            int x = i % N, y = i / N;
            double t = Math.Clamp(segment.T(px[i * 3], px[(i * 3) + 1], px[(i * 3) + 2]), -0.5, 1.5);
            int cell = ((y % Period) * Period) + (x % Period);
            sum[cell] += t;
            count[cell]++;
            total += t;
            totalCount++;
        }

        double mean = totalCount == 0 ? 0 : total / totalCount;
        var profile = new double[Period * Period];
        for (int c = 0; c < profile.Length; c++)
        {
            profile[c] = count[c] > 0 ? sum[c] / count[c] : mean;
        }

        var logits = new double[PatternPrototypes.Length];
        for (int p = 0; p < logits.Length; p++)
        {
            double best = double.MaxValue;
            foreach (double[] prototype in PatternPrototypes[p])
            {
                best = Math.Min(best, Misfit(profile, prototype));
            }

            logits[p] = -best / PatternTemperature;
        }

        return Softmax(logits);
    }

    /// <summary>Mean squared misfit of profile ~ a + b prototype, |a| at most MaxPatternOffset, b in [0.85, 1] (b = 0 for a flat prototype).</summary>
    private static double Misfit(double[] profile, double[] prototype)
    {
        int n = profile.Length;
        double mf = profile.Average(), mp = prototype.Average();
        double cov = 0, var = 0;
        for (int i = 0; i < n; i++)
        {
            cov += (profile[i] - mf) * (prototype[i] - mp);
            var += Square(prototype[i] - mp);
        }

        double b = var == 0 ? 0 : Math.Clamp(cov / var, MinPatternGain, 1);
        double a = Math.Clamp(mf - (b * mp), -MaxPatternOffset, MaxPatternOffset);
        double misfit = 0;
        for (int i = 0; i < n; i++)
        {
            misfit += Square(profile[i] - a - (b * prototype[i]));
        }

        return misfit / n;
    }

    /// <summary>For each pattern: its 6 x 6 shade profile at every phase, sharp and blurred by a 3 x 3 box.</summary>
    private static double[][][] MakePatternPrototypes()
    {
        var patterns = Enum.GetValues<Pattern>();
        var result = new double[patterns.Length][][];
        for (int p = 0; p < patterns.Length; p++)
        {
            var sharp = new double[Period * Period];
            for (int y = 0; y < Period; y++)
            {
                for (int x = 0; x < Period; x++)
                {
                    sharp[(y * Period) + x] = SceneRenderer.PatternIsShade(patterns[p], x, y) ? 1 : 0;
                }
            }

            var all = new List<double[]>();
            foreach (double[] profile in new[] { sharp, CyclicBlur(sharp) })
            {
                for (int sy = 0; sy < Period; sy++)
                {
                    for (int sx = 0; sx < Period; sx++)
                    {
                        var shifted = new double[Period * Period];
                        for (int y = 0; y < Period; y++)
                        {
                            for (int x = 0; x < Period; x++)
                            {
                                shifted[(y * Period) + x] = profile[(((y + sy) % Period) * Period) + ((x + sx) % Period)];
                            }
                        }

                        all.Add(shifted);
                    }
                }
            }

            result[p] = [.. all];
        }

        return result;
    }

    private static double[] CyclicBlur(double[] profile)
    {
        var result = new double[profile.Length];
        for (int y = 0; y < Period; y++)
        {
            for (int x = 0; x < Period; x++)
            {
                double s = 0;
                for (int dy = -1; dy <= 1; dy++)
                {
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        s += profile[((((y + dy + Period) % Period) * Period) + ((x + dx + Period) % Period))];
                    }
                }

                result[(y * Period) + x] = s / 9;
            }
        }

        return result;
    }

    private static double[] Softmax(double[] logits)
    {
        double max = logits.Max();
        double[] e = logits.Select(l => Math.Exp(l - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static int ArgMax(IReadOnlyList<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static void Normalise(double[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => x * x));
        if (norm > 0)
        {
            for (int i = 0; i < v.Length; i++)
            {
                v[i] /= norm;
            }
        }
    }

    private static double Square(double x) => x * x;
}
