using System.Text.Json;
using System.Text.Json.Nodes;
using HierDiff.Core;
using HierDiff.Models.Clip;
using HierDiff.Models.Images;
using HierDiff.ShapesWorld.Evaluation;
using HierDiff.TestModels;

namespace HierDiff.Models.Tests.Clip;

/// <summary>Against tests/data/clip-preprocessing, made with Debian's python3-pil 9.4.0 by
/// tools/make-clip-preprocessing-reference.py following transformers' CLIPImageProcessor.</summary>
public sealed class ClipImageProcessorTests
{
    private static readonly string Data = Path.Combine(AppContext.BaseDirectory, "TestData", "clip-preprocessing");

    public static TheoryData<string> ReferenceImages => new() { "shapes-64.png", "noise-61x97.png", "blocks-512x320.png", "ramp-230x301.png" };

    [Theory]
    [MemberData(nameof(ReferenceImages))]
    public void PixelValues_EqualPillowAndTransformers_WithinOneHundredThousandth(string input)
    {
        using var temp = new TempDirectory();
        ClipImageProcessor processor = Processor(temp, TinyClip.PreprocessorConfig());
        JsonElement reference = Reference(input, out float[][] levels);
        RgbImage image = Read(input);

        RgbImage resized = processor.Resized(image);
        Assert.Equal(reference.GetProperty("resized_size")[0].GetInt32(), resized.Width);
        Assert.Equal(reference.GetProperty("resized_size")[1].GetInt32(), resized.Height);

        float[] values = processor.PixelValues(image);
        RgbImage expected = Read(reference.GetProperty("expected").GetString()!);
        Assert.Equal(3 * 224 * 224, values.Length);
        double worst = 0, sum = 0;
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < 224 * 224; i++)
            {
                float want = levels[c][expected.Pixels[(i * 3) + c]];
                worst = Math.Max(worst, Math.Abs(values[(c * 224 * 224) + i] - want));
                sum += values[(c * 224 * 224) + i];
            }
        }

        Assert.True(worst <= 1e-5, $"{input}: largest difference from Pillow's {worst}");
        Assert.Equal(reference.GetProperty("pixel_values_sum").GetDouble(), sum, 2);
    }

    [Fact]
    public void SizesWrittenAsObjects_GiveTheSameValuesAsIntegers()
    {
        using var temp = new TempDirectory();
        JsonObject modern = TinyClip.PreprocessorConfig();
        modern["size"] = new JsonObject { ["shortest_edge"] = 224 };
        modern["crop_size"] = new JsonObject { ["height"] = 224, ["width"] = 224 };
        modern["do_rescale"] = true;
        modern["rescale_factor"] = 1 / 255.0;
        RgbImage image = Read("noise-61x97.png");
        Assert.Equal(Processor(temp, TinyClip.PreprocessorConfig(), "old").PixelValues(image), Processor(temp, modern, "new").PixelValues(image));
    }

    [Fact]
    public void ASmallerCrop_TakesTheCentre()
    {
        using var temp = new TempDirectory();
        JsonObject config = TinyClip.PreprocessorConfig();
        config["crop_size"] = 100;
        ClipImageProcessor processor = Processor(temp, config);
        RgbImage image = Read("ramp-230x301.png");
        float[] small = processor.PixelValues(image);
        float[] full = Processor(temp, TinyClip.PreprocessorConfig(), "full").PixelValues(image);

        // Resized to 224 x 293; a 224 crop starts at row 34, a 100 crop at row 96 and column 62.
        Assert.Equal(3 * 100 * 100, small.Length);
        Assert.Equal(full[((96 - 34) * 224) + 62], small[0]);
        Assert.Equal(full[(2 * 224 * 224) + ((96 - 34 + 99) * 224) + 62 + 99], small[^1]);
    }

    [Fact]
    public void ResizingToTheSameSize_CopiesTheImage()
    {
        RgbImage image = Read("shapes-64.png");
        RgbImage same = PilResize.Bicubic(image, 64, 64);
        Assert.Equal(image.Pixels, same.Pixels);
        Assert.NotSame(image.Pixels, same.Pixels);
    }

    [Fact]
    public void AConstantImage_StaysConstant_WhenEnlargedOrShrunk()
    {
        var grey = new RgbImage(37, 53, Enumerable.Repeat((byte)131, 37 * 53 * 3).ToArray());
        Assert.All(PilResize.Bicubic(grey, 224, 321).Pixels, v => Assert.Equal(131, v));
        Assert.All(PilResize.Bicubic(grey, 5, 3).Pixels, v => Assert.Equal(131, v));
    }

    [Theory]
    [InlineData("resample", "2", "resample is 2")]
    [InlineData("size", "\"big\"", "size must be")]
    [InlineData("crop_size", "0", "crop_size must be a whole number")]
    [InlineData("image_std", "[0.2, 0, 0.3]", "image_std must not be 0")]
    [InlineData("image_mean", "[0.5, 0.5]", "image_mean must be three numbers")]
    [InlineData("do_resize", "\"yes\"", "do_resize must be true or false")]
    public void ABadField_IsRefusedByFileAndName(string field, string json, string message)
    {
        using var temp = new TempDirectory();
        JsonObject config = TinyClip.PreprocessorConfig();
        config[field] = JsonNode.Parse(json);
        var e = Assert.Throws<HierDiffInputException>(() => Processor(temp, config));
        Assert.Contains("preprocessor_config.json", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AMissingConfig_IsNamed()
    {
        using var temp = new TempDirectory();
        var e = Assert.Throws<HierDiffInputException>(() => ClipImageProcessor.Load(temp.Sub(ClipImageProcessor.FileName)));
        Assert.Contains("preprocessor_config.json: missing", e.Message);
    }

    private static ClipImageProcessor Processor(TempDirectory temp, JsonObject config, string name = "config")
    {
        string path = temp.Sub(name + ".json");
        File.WriteAllText(path, config.ToJsonString());
        string target = temp.Sub(name);
        Directory.CreateDirectory(target);
        File.Move(path, Path.Combine(target, ClipImageProcessor.FileName), overwrite: true);
        return ClipImageProcessor.Load(Path.Combine(target, ClipImageProcessor.FileName));
    }

    private static RgbImage Read(string file)
    {
        PngImage png = PngDecoder.Decode(File.ReadAllBytes(Path.Combine(Data, file)));
        return new RgbImage(png.Width, png.Height, png.Rgb);
    }

    private static JsonElement Reference(string input, out float[][] levels)
    {
        JsonElement root = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Data, "reference.json"))).RootElement;
        levels = root.GetProperty("normalised_levels").EnumerateArray().Select(c => c.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray()).ToArray();
        return root.GetProperty("images").EnumerateArray().Single(i => i.GetProperty("input").GetString() == input);
    }
}
