using HierDiff.Core;
using HierDiff.ShapesWorld.Evaluation;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Tests;

public sealed class PromptParserTests
{
    [Fact]
    public void ReadsBackEveryPhrasingThePromptWriterWrites()
    {
        var random = new Random(11);
        for (int i = 0; i < 5000; i++)
        {
            SceneDescription d = PromptWriter.RandomDescription(random);
            string prompt = PromptWriter.Write(d, random);
            Assert.True(d == PromptParser.Parse(prompt), $"'{prompt}' read as {PromptParser.Parse(prompt)}, written from {d}");
        }
    }

    [Theory]
    [InlineData("a large red circle on a blue background", ShapeKind.Circle, Colour.Red, Colour.Blue, ShapeSize.Large, null, null)]
    [InlineData("a red circle in the top, blue background", ShapeKind.Circle, Colour.Red, Colour.Blue, null, Position.Top, null)]
    [InlineData("red circle", ShapeKind.Circle, Colour.Red, null, null, null, null)]
    [InlineData("blue background with a red circle", ShapeKind.Circle, Colour.Red, Colour.Blue, null, null, null)]
    [InlineData("a striped red circle on a blue background", ShapeKind.Circle, Colour.Red, Colour.Blue, null, null, Pattern.Striped)]
    [InlineData("a large red circle on a blue background, dotted", ShapeKind.Circle, Colour.Red, Colour.Blue, ShapeSize.Large, null, Pattern.Dotted)]
    [InlineData("an orange square on a white background", ShapeKind.Square, Colour.Orange, Colour.White, null, null, null)]
    [InlineData("Yellow background with a small checkered black triangle at the left", ShapeKind.Triangle, Colour.Black, Colour.Yellow, ShapeSize.Small, Position.Left, Pattern.Checkered)]
    [InlineData("a solid green square on the center", ShapeKind.Square, Colour.Green, null, null, Position.Center, Pattern.Solid)]
    public void ReadsTheExamplePhrasings(string prompt, ShapeKind kind, Colour colour, Colour? background, ShapeSize? size, Position? position, Pattern? pattern)
    {
        Assert.Equal(new SceneDescription(kind, colour, background, size, position, pattern), PromptParser.Parse(prompt));
    }

    [Theory]
    [InlineData("a red thing on a blue background", "names no shape")]
    [InlineData("a circle on a blue background", "names no colour")]
    [InlineData("", "names no shape")]
    [InlineData("a red circle and a green square", "two values for its shape")]
    [InlineData("a red green circle", "two values for its shape colour")]
    public void RefusesPromptsItCannotRead(string prompt, string why)
    {
        HierDiffInputException e = Assert.Throws<HierDiffInputException>(() => PromptParser.Parse(prompt));
        Assert.Contains($"'{prompt}'", e.Message);
        Assert.Contains(why, e.Message);
        Assert.Null(PromptParser.TryParse(prompt));
    }
}
