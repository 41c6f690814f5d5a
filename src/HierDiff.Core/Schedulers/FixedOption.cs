using System.Globalization;
using System.Text.Json;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// A diffusers config option implemented only at one value. A file that sets it otherwise would silently give
/// different results if it were ignored, so a scheduler whose diffusers class takes the option refuses it.
/// Which schedulers take which options is the <see cref="SchedulerRegistry"/>'s business.
/// </summary>
internal sealed record FixedOption(string Key, string Supported, Func<JsonElement, bool> IsSupported)
{
    public static FixedOption Flag(string key, bool supported) =>
        new(key, supported ? "true" : "false", v => v.ValueKind == (supported ? JsonValueKind.True : JsonValueKind.False));

    public static FixedOption Text(string key, string supported) =>
        new(key, $"\"{supported}\"", v => v.ValueKind == JsonValueKind.String && v.GetString() == supported);

    public static FixedOption Number(string key, double supported) =>
        new(key, supported.ToString(CultureInfo.InvariantCulture),
            v => SchedulerConfig.TryReadDouble(v, out double d) && d.Equals(supported));

    public static FixedOption Null(string key) =>
        new(key, "null", v => v.ValueKind == JsonValueKind.Null);
}
