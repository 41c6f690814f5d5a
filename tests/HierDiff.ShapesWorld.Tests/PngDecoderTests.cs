using HierDiff.ShapesWorld.Evaluation;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Tests;

public sealed class PngDecoderTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(-1)]
    public void DecodesEveryFilterType(int filter)
    {
        var random = new Random(filter + 10);
        var pixels = new byte[37 * 23 * 3];
        random.NextBytes(pixels);
        byte[] png = TestPng.Encode(37, 23, pixels, filterOfRow: y => filter >= 0 ? filter : y % 5);
        PngImage image = PngDecoder.Decode(png);
        Assert.Equal(37, image.Width);
        Assert.Equal(23, image.Height);
        Assert.Equal(pixels, image.Rgb);
    }

    [Fact]
    public void DropsAlpha()
    {
        var rgba = new byte[4 * 4 * 4];
        new Random(3).NextBytes(rgba);
        PngImage image = PngDecoder.Decode(TestPng.Encode(4, 4, rgba, channels: 4));
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(rgba.AsSpan(i * 4, 3).ToArray(), image.Rgb.AsSpan(i * 3, 3).ToArray());
        }
    }

    [Fact]
    public void RefusesWhatIsNotAPng()
    {
        Assert.Throws<InvalidDataException>(() => PngDecoder.Decode("GIF89a not a png"u8));
        byte[] png = TestPng.Encode(8, 8, new byte[8 * 8 * 3]);
        Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(png.AsSpan(0, png.Length - 20)));
    }

    [Fact]
    public void ResizesALargerRenderingBackToTheWorldsSize()
    {
        var scene = new Scene(ShapeKind.Square, Colour.Purple, Colour.Yellow, ShapeSize.Small, Position.Bottom, Pattern.Checkered);
        byte[] small = SceneRenderer.Render(scene);
        var large = new byte[128 * 128 * 3];
        for (int y = 0; y < 128; y++)
        {
            for (int x = 0; x < 128; x++)
            {
                Array.Copy(small, (((y / 2) * 64) + (x / 2)) * 3, large, ((y * 128) + x) * 3, 3);
            }
        }

        Assert.Equal(small, new PngImage(128, 128, large).Resized(64));
        Assert.Same(small, new PngImage(64, 64, small).Resized(64));
    }
}
