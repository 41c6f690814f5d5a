using System.Text.Json;
using HierDiff.Core;
using HierDiff.Models.Images;

namespace HierDiff.Models.Clip;

/// <summary>
/// CLIP's image preprocessing as transformers' CLIPImageProcessor does it (image_processing_clip.py and
/// image_transforms.py at transformers 06053b84 / 000593ad), from the export's <c>preprocessor_config.json</c>:
/// <list type="number">
/// <item>resize so the short side is <c>size.shortest_edge</c> (the long side int(short x long / short)), or to
/// <c>size.height</c> x <c>size.width</c>, with Pillow's bicubic (<see cref="PilResize"/>);</item>
/// <item>centre crop to <c>crop_size</c>: top = (height - crop) // 2, left likewise (padding with zeros where the
/// image is smaller);</item>
/// <item>x * rescale_factor in double, stored as float32; then (x - mean) / std in float32, channel first.</item>
/// </list>
/// The reference numbers come from Debian's python3-pil (tools/make-clip-preprocessing-reference.py).
/// </summary>
public sealed class ClipImageProcessor
{
    public const string FileName = "preprocessor_config.json";
    private const int BicubicResample = 3;

    /// <summary>OpenAI CLIP's defaults, which transformers uses where the config leaves them out.</summary>
    private static readonly float[] OpenAiMean = [0.48145466f, 0.4578275f, 0.40821073f];
    private static readonly float[] OpenAiStd = [0.26862954f, 0.26130258f, 0.27577711f];

    private readonly bool _resize;
    private readonly int? _shortestEdge;
    private readonly (int Height, int Width)? _resizeTo;
    private readonly bool _crop;
    private readonly bool _rescale;
    private readonly double _rescaleFactor;
    private readonly bool _normalize;
    private readonly float[] _mean;
    private readonly float[] _std;

    private ClipImageProcessor(string path, JsonElement root)
    {
        Path = path;
        _resize = Flag(root, "do_resize", true);
        (_shortestEdge, _resizeTo) = Size(root, "size", defaultToSquare: false) switch
        {
            (int s, null) => ((int?)s, ((int, int)?)null),
            (null, (int h, int w)) => (null, (h, w)),
            _ => (224, null),
        };
        _crop = Flag(root, "do_center_crop", true);
        (int cropHeight, int cropWidth) = Size(root, "crop_size", defaultToSquare: true).Square ?? (224, 224);
        CropHeight = cropHeight;
        CropWidth = cropWidth;
        _rescale = Flag(root, "do_rescale", true);
        _rescaleFactor = Number(root, "rescale_factor") ?? (1 / 255.0);
        _normalize = Flag(root, "do_normalize", true);
        _mean = Channels(root, "image_mean") ?? OpenAiMean;
        _std = Channels(root, "image_std") ?? OpenAiStd;
        if (_std.Any(s => s == 0))
        {
            throw Error("image_std must not be 0");
        }

        if (Number(root, "resample") is double r && r != BicubicResample)
        {
            throw Error($"resample is {r}; HierDiff preprocesses with bicubic (3), which CLIP's exports use");
        }
    }

    /// <summary>Where the config was read from.</summary>
    public string Path { get; }

    /// <summary>The height of the images given to the model.</summary>
    public int CropHeight { get; }

    /// <summary>The width of the images given to the model.</summary>
    public int CropWidth { get; }

    /// <summary>Reads <c>preprocessor_config.json</c>; every refusal names the file and the field.</summary>
    public static ClipImageProcessor Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new HierDiffInputException($"{path}: missing; a CLIP export has its preprocessor_config.json beside the model");
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new HierDiffInputException($"{path}: expected a JSON object");
            }

            return new ClipImageProcessor(path, document.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{path}: not valid JSON: {e.Message}");
        }
    }

    /// <summary>The image after resizing, before the crop (8-bit, as Pillow leaves it).</summary>
    public RgbImage Resized(RgbImage image)
    {
        if (!_resize)
        {
            return image;
        }

        (int height, int width) = _resizeTo ?? ShortSideTo(_shortestEdge!.Value, image.Height, image.Width);
        return PilResize.Bicubic(image, width, height);
    }

    /// <summary>pixel_values for one image: 3 x <see cref="CropHeight"/> x <see cref="CropWidth"/>, channel first.</summary>
    public float[] PixelValues(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        RgbImage resized = Resized(image);
        int height = _crop ? CropHeight : resized.Height;
        int width = _crop ? CropWidth : resized.Width;
        if (!_crop && (height != CropHeight || width != CropWidth))
        {
            throw new HierDiffInputException(
                $"{Path}: without a centre crop the images are {width} x {height}, but the model takes {CropWidth} x {CropHeight}");
        }

        // transformers pads with zeros where the crop is larger, centring the image at ceil of the half difference.
        int paddedHeight = Math.Max(height, resized.Height), paddedWidth = Math.Max(width, resized.Width);
        int padTop = (paddedHeight - resized.Height + 1) / 2, padLeft = (paddedWidth - resized.Width + 1) / 2;
        int top = ((paddedHeight - height) / 2) - padTop, left = ((paddedWidth - width) / 2) - padLeft;
        var values = new float[3 * height * width];
        for (int c = 0; c < 3; c++)
        {
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    int sy = top + y, sx = left + x;
                    byte v = sy >= 0 && sy < resized.Height && sx >= 0 && sx < resized.Width ? resized.Pixels[(((sy * resized.Width) + sx) * 3) + c] : (byte)0;
                    float f = _rescale ? (float)(v * _rescaleFactor) : v;
                    values[(((c * height) + y) * width) + x] = _normalize ? (f - _mean[c]) / _std[c] : f;
                }
            }
        }

        return values;
    }

    /// <summary>transformers' get_resize_output_image_size with default_to_square False: the short side becomes
    /// <paramref name="shortSide"/>, the long one int(shortSide x long / short).</summary>
    private static (int Height, int Width) ShortSideTo(int shortSide, int height, int width)
    {
        (int shortest, int longest) = width <= height ? (width, height) : (height, width);
        int newLong = (int)((double)shortSide * longest / shortest);
        return width <= height ? (newLong, shortSide) : (shortSide, newLong);
    }

    private HierDiffInputException Error(string message) => new($"{Path}: {message}");

    private bool Flag(JsonElement root, string name, bool fallback) =>
        !root.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? fallback
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw Error($"{name} must be true or false");

    private double? Number(JsonElement root, string name) =>
        !root.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.GetDouble() is double d && double.IsFinite(d) && d > 0 ? d
        : throw Error($"{name} must be a positive number");

    /// <summary>A size as transformers' get_size_dict reads it: an int (the short side, or a square where
    /// <paramref name="defaultToSquare"/>), {"shortest_edge": n} or {"height": h, "width": w}.</summary>
    private (int? ShortestEdge, (int, int)? Square) Size(JsonElement root, string name, bool defaultToSquare)
    {
        if (!root.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
        {
            return (null, null);
        }

        if (v.ValueKind == JsonValueKind.Number)
        {
            int n = Side(v, name);
            return defaultToSquare ? (null, (n, n)) : (n, null);
        }

        if (v.ValueKind == JsonValueKind.Object)
        {
            if (v.TryGetProperty("shortest_edge", out JsonElement s))
            {
                int n = Side(s, $"{name}.shortest_edge");
                return defaultToSquare ? (null, (n, n)) : (n, null);
            }

            if (v.TryGetProperty("height", out JsonElement h) && v.TryGetProperty("width", out JsonElement w))
            {
                return (null, (Side(h, $"{name}.height"), Side(w, $"{name}.width")));
            }
        }

        throw Error($"{name} must be a number, {{\"shortest_edge\": n}} or {{\"height\": h, \"width\": w}}");
    }

    private int Side(JsonElement v, string name) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n >= 1 && n <= 4096 ? n
        : throw Error($"{name} must be a whole number of pixels from 1 to 4096");

    private float[]? Channels(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind == JsonValueKind.Number)
        {
            float one = (float)v.GetDouble();
            return [one, one, one];
        }

        if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 3 && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
        {
            return v.EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        }

        throw Error($"{name} must be three numbers, one per RGB channel");
    }
}
