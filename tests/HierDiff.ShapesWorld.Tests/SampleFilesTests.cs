using HierDiff.ShapesWorld.Evaluation;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Tests;

/// <summary>samples/mixed-prompts.txt and samples/pattern-variations.txt, as copied next to the tests.</summary>
public sealed class SampleFilesTests
{
    private static string[] Lines(string name) => File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Samples", name));

    [Fact]
    public void MixedPromptsAreManyReadableAndVaried()
    {
        string[] lines = Lines("mixed-prompts.txt");
        Assert.True(lines.Length >= 200, $"{lines.Length} prompts");
        foreach (string example in TestRuns.Prompts)
        {
            Assert.Contains(example, lines);
        }

        SceneDescription[] all = lines.Select(PromptParser.Parse).ToArray();
        Assert.Equal(3, all.Select(d => d.Kind).Distinct().Count());
        Assert.Equal(8, all.Select(d => d.ShapeColour).Distinct().Count());
        Assert.Contains(all, d => d.Background is null);
        Assert.Contains(all, d => d.Pattern is null);
        Assert.Equal(4, all.Where(d => d.Pattern is not null).Select(d => d.Pattern).Distinct().Count());
        Assert.Equal(5, all.Where(d => d.Position is not null).Select(d => d.Position).Distinct().Count());
    }

    [Fact]
    public void PatternVariationsDifferOnlyInThePattern()
    {
        string[] lines = Lines("pattern-variations.txt");
        Assert.True(lines.Length >= 40 && lines.Length % 4 == 0, $"{lines.Length} prompts");
        var scenes = new HashSet<SceneDescription>();
        for (int g = 0; g < lines.Length; g += 4)
        {
            SceneDescription[] group = lines.Skip(g).Take(4).Select(PromptParser.Parse).ToArray();
            Assert.All(group, d => Assert.True(d.Background is not null && d.Size is not null && d.Position is not null && d.Pattern is not null, $"{d} says everything"));
            Assert.Equal(Enum.GetValues<Pattern>().Cast<Pattern?>(), group.Select(d => d.Pattern).Order());
            Assert.Single(group.Select(d => d with { Pattern = null }).Distinct());
            Assert.True(scenes.Add(group[0] with { Pattern = null }), $"scene of line {g + 1} appears twice");

            // Same wording: only the pattern word differs.
            string[][] words = lines.Skip(g).Take(4).Select(l => l.Split(' ')).ToArray();
            Assert.All(words, w => Assert.Equal(words[0].Length, w.Length));
            for (int k = 0; k < words[0].Length; k++)
            {
                if (words.Select(w => w[k]).Distinct().Count() > 1)
                {
                    Assert.All(words, w => Assert.NotNull(PromptParser.TryParse("circle red " + w[k].TrimEnd(','))?.Pattern));
                }
            }
        }
    }
}
