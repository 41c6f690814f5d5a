using HierDiff.Models.Images;

namespace HierDiff.Models.Tests.Images;

public class PngEncoderTests
{
    private static RgbImage Gradient(int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 37) ^ (i >> 3));
        }

        return new RgbImage(width, height, pixels);
    }

    [Fact]
    public void PixelsAndTextRoundTrip()
    {
        RgbImage image = Gradient(13, 7);
        byte[] png = PngEncoder.Encode(image, [new("prompt", "a red circle"), new("seed", "42"), new("model", "東京 café")]);
        PngReader.Png read = PngReader.Read(png);
        Assert.Equal((13, 7), (read.Width, read.Height));
        Assert.Equal(image.Pixels, read.Rgb);
        Assert.Equal("a red circle", read.Text["prompt"]);
        Assert.Equal("42", read.Text["seed"]);
        Assert.Equal("東京 café", read.Text["model"]);
    }

    [Fact]
    public void TheSameImageAndTextGiveTheSameBytes()
    {
        byte[] a = PngEncoder.Encode(Gradient(64, 64), [new("prompt", "x")]);
        byte[] b = PngEncoder.Encode(Gradient(64, 64), [new("prompt", "x")]);
        Assert.Equal(a, b);
    }

    [Fact]
    public void DecoderOutputMapsLikeDiffusers()
    {
        // (x / 2 + 0.5) clamped, * 255, rounded half to even: -1 → 0, 0 → 128 (127.5 rounds to even), 1 → 255.
        RgbImage image = RgbImage.FromPlanar([-1f, 0f, 1f, 2f, -3f, 0.5f], 1, 2);
        Assert.Equal(new byte[] { 0, 255, 0, 128, 255, 191 }, image.Pixels);
    }
}
