using System.Globalization;
using System.Text.Json;

namespace HierDiff.Core.Runs;

/// <summary>
/// A value in a JSON input file, with the file and the place in it (<c>prompts[3].image</c>), so that a wrong or
/// missing value is refused as one <see cref="HierDiffInputException"/> line that names both, never a crash.
/// Readers of run files go through it instead of <see cref="JsonElement"/>'s throwing getters.
/// </summary>
public readonly record struct JsonField(string File, string Place, JsonElement Value)
{
    /// <summary>The root of a JSON file; bad JSON (truncated, NaN, trailing text) is an input error naming the file.</summary>
    public static JsonField Parse(string file, byte[] bytes)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes);
            return new JsonField(file, "", document.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{file}: not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>A required property of this object.</summary>
    public JsonField Property(string name) =>
        OptionalProperty(name) ?? throw Error(name, "is missing");

    /// <summary>A property of this object, or null where it is absent or JSON null.</summary>
    public JsonField? OptionalProperty(string name)
    {
        if (Value.ValueKind != JsonValueKind.Object)
        {
            throw Wrong("an object");
        }

        return Value.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null
            ? new JsonField(File, Place.Length == 0 ? name : $"{Place}.{name}", value)
            : null;
    }

    /// <summary>The items of this array.</summary>
    public IEnumerable<JsonField> Items()
    {
        if (Value.ValueKind != JsonValueKind.Array)
        {
            throw Wrong("an array");
        }

        return Enumerate(this);

        static IEnumerable<JsonField> Enumerate(JsonField array)
        {
            int i = 0;
            foreach (JsonElement item in array.Value.EnumerateArray())
            {
                yield return new JsonField(array.File, $"{array.Place}[{i++}]", item);
            }
        }
    }

    public int ArrayLength => Value.ValueKind == JsonValueKind.Array ? Value.GetArrayLength() : throw Wrong("an array");

    public string String() => Value.ValueKind == JsonValueKind.String ? Value.GetString()! : throw Wrong("a string");

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>] (1e30, 1.5 and "3" are refused).</summary>
    public int Int(int min = int.MinValue, int max = int.MaxValue) => (int)Long(min, max);

    public long Long(long min = long.MinValue, long max = long.MaxValue)
    {
        if (Value.ValueKind != JsonValueKind.Number || !Value.TryGetInt64(out long value))
        {
            throw Wrong("a whole number");
        }

        return value >= min && value <= max
            ? value
            : throw new HierDiffInputException($"{File}: {Place}: {value.ToString(CultureInfo.InvariantCulture)} is out of range ({Range(min, max)})");
    }

    /// <summary>A finite number (JSON has no NaN; a literal too large for a double, like 1e400, is refused).</summary>
    public double Double()
    {
        if (Value.ValueKind != JsonValueKind.Number || !Value.TryGetDouble(out double value) || !double.IsFinite(value))
        {
            throw Wrong("a finite number");
        }

        return value;
    }

    /// <summary>An input error about this value: "FILE: PLACE: WHAT".</summary>
    public HierDiffInputException Error(string what) => new($"{File}: {(Place.Length == 0 ? "" : Place + ": ")}{what}");

    private HierDiffInputException Error(string property, string what) =>
        new($"{File}: {(Place.Length == 0 ? property : $"{Place}.{property}")} {what}");

    private HierDiffInputException Wrong(string expected) => Error($"expected {expected}, found {Describe(Value)}");

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        // A number's text is short unless someone wrote 10,000 digits: show the start only.
        _ => value.GetRawText().Length <= 24 ? value.GetRawText() : value.GetRawText()[..24] + "...",
    };

    private static string Range(long min, long max) => (min, max) switch
    {
        (long.MinValue or int.MinValue, _) => $"at most {max.ToString(CultureInfo.InvariantCulture)}",
        (_, long.MaxValue or int.MaxValue) => $"at least {min.ToString(CultureInfo.InvariantCulture)}",
        _ => $"{min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}",
    };
}
