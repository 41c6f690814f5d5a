using HierDiff.ShapesWorld.Evaluation;
using HierDiff.ShapesWorld.World;
using Xunit.Abstractions;

namespace HierDiff.ShapesWorld.Tests;

public sealed class ImageEvaluatorTests(ITestOutputHelper output)
{
    private const int Images = 3000;

    [Fact]
    public void ReadsEveryAttributeOfTheRenderersImages() =>
        AssertReads("clean", new Random(1), scene => SceneRenderer.Render(scene), minAccuracy: 0.98, minMeanScore: 0.9);

    [Fact]
    public void ReadsNoisyBlurryImages()
    {
        // A model's images are soft and grainy: a 3 x 3 blur, then Gaussian noise of sigma 20/255 on every byte.
        var random = new Random(2);
        AssertReads(
            "blur + noise", random, scene => TestImages.Noise(TestImages.Blur(SceneRenderer.Render(scene)), 20, random), minAccuracy: 0.95, minMeanScore: 0.85);
    }

    [Fact]
    public void MismatchedAttributesScoreLow()
    {
        // Clean images: every wrong value scores below 0.5. Noisy, blurry ones: at least 98 % of them.
        var random = new Random(3);
        var worst = new Dictionary<string, double>();
        int noisyChecks = 0, noisyHigh = 0;
        for (int n = 0; n < 600; n++)
        {
            Scene scene = TestImages.RandomScene(random);
            bool noisy = n % 2 == 1;
            byte[] image = noisy ? TestImages.Noise(TestImages.Blur(SceneRenderer.Render(scene)), 20, random) : SceneRenderer.Render(scene);
            ImageReading reading = ImageEvaluator.Read(image);
            SceneDescription truth = TestImages.Describe(scene);
            Colour otherColour = Other(random, 8, (int)scene.ShapeColour, (int)scene.Background);
            SceneDescription[] wrong =
            [
                truth with { ShapeColour = otherColour },
                truth with { Background = Other(random, 8, (int)scene.Background, (int)scene.ShapeColour) },
                truth with { Kind = Other<ShapeKind>(random, 3, (int)scene.Kind) },
                truth with { Size = scene.Size == ShapeSize.Large ? ShapeSize.Small : ShapeSize.Large },
                truth with { Position = Other<Position>(random, 5, (int)scene.Position) },
                truth with { Pattern = Other<Pattern>(random, 4, (int)scene.Pattern) },
            ];
            for (int a = 0; a < wrong.Length; a++)
            {
                string name = ImageEvaluator.AttributeNames[a];
                double p = ImageEvaluator.Score(reading, wrong[a]).Attributes[name];
                if (noisy)
                {
                    noisyChecks++;
                    noisyHigh += p < 0.5 ? 0 : 1;
                }
                else
                {
                    worst[name] = Math.Max(worst.GetValueOrDefault(name), p);
                    Assert.True(p < 0.5, $"{name} {p:0.000} for {wrong[a]} on {scene}");
                }
            }

            // A prompt that names only mismatched things: the wrong kind in the wrong colour.
            var both = new SceneDescription(wrong[2].Kind, otherColour);
            Assert.True(ImageEvaluator.Score(reading, both).Score < 0.5, $"{both} on {scene}");

            // Everything wrong.
            var all = new SceneDescription(wrong[2].Kind, otherColour, wrong[1].Background, wrong[3].Size, wrong[4].Position, wrong[5].Pattern);
            Assert.True(ImageEvaluator.Score(reading, all).Score < 0.5, $"{all} on {scene}");
        }

        string report = "clean images, highest score of a wrong value: " + string.Join(", ", worst.Select(kv => $"{kv.Key} {kv.Value:0.000}")) +
            $"; noisy images: {noisyHigh} of {noisyChecks} wrong values at 0.5 or more";
        output.WriteLine(report);
        Assert.True(noisyHigh <= noisyChecks * 0.02, report);
    }

    [Fact]
    public void ScoresOnlyWhatThePromptNames()
    {
        var scene = new Scene(ShapeKind.Triangle, Colour.Green, Colour.White, ShapeSize.Large, Position.Left, Pattern.Striped);
        byte[] image = SceneRenderer.Render(scene);
        ImageScore score = ImageEvaluator.Score(image, new SceneDescription(ShapeKind.Triangle, Colour.Green, Position: Position.Right));
        Assert.Equal(["kind", "position", "shape_colour"], score.Attributes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((score.Attributes["shape_colour"] + score.Attributes["kind"] + score.Attributes["position"]) / 3, score.Score, 12);
        Assert.True(score.Attributes["position"] < 0.01);
        Assert.Equal(scene, score.Read);
    }

    [Fact]
    public void AnEmptyImageHasNoShape()
    {
        byte[] plain = new byte[64 * 64 * 3];
        (byte r, byte g, byte b) = Palette.Rgb(Colour.Blue);
        for (int i = 0; i < plain.Length; i += 3)
        {
            (plain[i], plain[i + 1], plain[i + 2]) = (r, g, b);
        }

        ImageReading reading = ImageEvaluator.Read(plain);
        Assert.False(reading.ShapeFound);
        Assert.Equal(Colour.Blue, reading.Scene.Background);
        ImageScore score = ImageEvaluator.Score(reading, new SceneDescription(ShapeKind.Circle, Colour.Red, Colour.Blue));
        Assert.Equal(0, score.Attributes["kind"]);
        Assert.Equal(0, score.Attributes["shape_colour"]);
        Assert.True(score.Attributes["background"] > 0.99);
        Assert.Throws<ArgumentException>(() => ImageEvaluator.Read(new byte[100]));
    }

    [Fact]
    public void FeaturesAreUnitVectorsThatTellImagesApart()
    {
        var a = new Scene(ShapeKind.Circle, Colour.Red, Colour.Blue, ShapeSize.Large, Position.Center, Pattern.Solid);
        double[] fa = ImageEvaluator.Features(SceneRenderer.Render(a));
        double[] fSame = ImageEvaluator.Features(SceneRenderer.Render(a));
        double[] fNear = ImageEvaluator.Features(SceneRenderer.Render(a with { Position = Position.Left }));
        double[] fFar = ImageEvaluator.Features(SceneRenderer.Render(new Scene(ShapeKind.Square, Colour.Yellow, Colour.Black, ShapeSize.Small, Position.Top, Pattern.Dotted)));
        Assert.Equal(1, Math.Sqrt(fa.Sum(x => x * x)), 9);
        Assert.Equal(1, ImageEvaluator.Cosine(fa, fSame), 9);
        Assert.True(ImageEvaluator.Cosine(fa, fNear) > ImageEvaluator.Cosine(fa, fFar));
        Assert.True(ImageEvaluator.Cosine(fa, fFar) < 0.5);
    }

    /// <summary>Measures the evaluator on <paramref name="image"/>'s pictures of random scenes, writes the report to the
    /// test output, and checks every attribute's accuracy (at least <paramref name="minAccuracy"/>) and the mean score
    /// (above <paramref name="minMeanScore"/>).</summary>
    private void AssertReads(string what, Random random, Func<Scene, byte[]> image, double minAccuracy, double minMeanScore)
    {
        (double[] accuracy, double meanScore) = Measure(random, image);
        string report = Report(what, accuracy, meanScore);
        output.WriteLine(report);
        Assert.True(accuracy.All(a => a >= minAccuracy), report);
        Assert.True(meanScore > minMeanScore, report);
    }

    private static (double[] Accuracy, double MeanScore) Measure(Random random, Func<Scene, byte[]> image)
    {
        var right = new int[ImageEvaluator.AttributeNames.Count];
        double scores = 0;
        for (int n = 0; n < Images; n++)
        {
            Scene s = TestImages.RandomScene(random);
            ImageScore score = ImageEvaluator.Score(image(s), TestImages.Describe(s));
            scores += score.Score;
            Scene r = score.Read;
            bool[] ok = [r.ShapeColour == s.ShapeColour, r.Background == s.Background, r.Kind == s.Kind, r.Size == s.Size, r.Position == s.Position, r.Pattern == s.Pattern];
            for (int a = 0; a < ok.Length; a++)
            {
                right[a] += ok[a] ? 1 : 0;
            }
        }

        return (right.Select(r => (double)r / Images).ToArray(), scores / Images);
    }

    private static string Report(string what, double[] accuracy, double meanScore) =>
        $"{what}, {Images} images: mean score {meanScore:0.0000}; read right: " +
        string.Join(", ", ImageEvaluator.AttributeNames.Select((name, a) => $"{name} {accuracy[a]:0.00%}"));

    private static Colour Other(Random random, int count, int not, int alsoNot)
    {
        while (true)
        {
            int c = random.Next(count);
            if (c != not && c != alsoNot)
            {
                return (Colour)c;
            }
        }
    }

    private static T Other<T>(Random random, int count, int not)
        where T : struct, Enum
    {
        int c = random.Next(count - 1);
        return (T)(object)(c >= not ? c + 1 : c);
    }
}
