using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace HierDiff.Core.Prompts;

/// <summary>
/// Reads prompt files: <c>.txt</c> (one prompt a line, blank lines skipped), <c>.json</c> (an array of strings or of
/// objects with a <c>prompt</c> field), <c>.jsonl</c> (one string or object a line) and <c>.csv</c> (a <c>prompt</c>
/// column). Every rejection is a <see cref="HierDiffInputException"/> whose one-line message starts "file:line:".
/// </summary>
public static class PromptFileReader
{
    // Each prompt file type and how it is read: JSON from the bytes, the others from the decoded text.
    private static readonly (string Extension, FormatReader Read)[] Formats =
    [
        (".txt", (_, text, collector) => ReadText(text, collector)),
        (".json", (bytes, _, collector) => ReadJson(bytes, collector)),
        (".jsonl", (_, text, collector) => ReadJsonLines(text, collector)),
        (".csv", (_, text, collector) => ReadCsv(text, collector)),
    ];

    public static readonly IReadOnlyList<string> SupportedExtensions = [.. Formats.Select(f => f.Extension)];

    private delegate void FormatReader(ReadOnlySpan<byte> bytes, string text, Collector collector);

    public static PromptSet Read(string path, PromptFileLimits? limits = null)
    {
        limits ??= PromptFileLimits.Default;
        return Parse(ReadBytes(path, limits), path, limits);
    }

    /// <summary>A prompt file's bytes, read no further than <see cref="PromptFileLimits.MaxFileBytes"/>.</summary>
    public static byte[] ReadBytes(string path, PromptFileLimits limits)
    {
        if (Directory.Exists(path))
        {
            throw new HierDiffInputException($"{path}: is a folder, not a prompt file");
        }

        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            bytes = ReadCapped(stream, limits.MaxFileBytes, path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new HierDiffInputException($"{path}: no such prompt file", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HierDiffInputException($"{path}: cannot read the prompt file: {e.Message}", e);
        }

        return bytes;
    }

    /// <summary>Reads a prompt file's bytes from a stream, refusing it as soon as it passes
    /// <paramref name="maxBytes"/>, so an oversized file never sits in memory whole.</summary>
    public static byte[] ReadCapped(Stream stream, long maxBytes, string sourceName)
    {
        if (stream.CanSeek && stream.Length > maxBytes)
        {
            throw TooLarge(sourceName, stream.Length, maxBytes);
        }

        var bytes = new MemoryStream();
        byte[] buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            if (bytes.Length + read > maxBytes)
            {
                throw TooLarge(sourceName, null, maxBytes);
            }

            bytes.Write(buffer, 0, read);
        }

        return bytes.ToArray();
    }

    private static HierDiffInputException TooLarge(string sourceName, long? size, long maxBytes) => new(
        $"{sourceName}: the prompt file is {(size is long s ? $"{s:N0} bytes" : "larger than that")}; the limit is {maxBytes:N0} bytes ({PromptFileLimits.Setting("MaxPromptFileBytes")})");

    /// <summary>Parses a prompt file's bytes; the format follows <paramref name="sourceName"/>'s extension.</summary>
    public static PromptSet Parse(ReadOnlySpan<byte> bytes, string sourceName, PromptFileLimits? limits = null)
    {
        limits ??= PromptFileLimits.Default;
        string extension = Path.GetExtension(sourceName).ToLowerInvariant();
        FormatReader? read = Array.Find(Formats, f => f.Extension == extension).Read;
        if (read is null)
        {
            throw new HierDiffInputException(
                $"{sourceName}: unsupported prompt file type '{extension}'; use one of {string.Join(", ", SupportedExtensions)}");
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            bytes = bytes[3..];
        }

        if (bytes.IsEmpty)
        {
            throw new HierDiffInputException($"{sourceName}:1: the prompt file is empty");
        }

        if (bytes.Length > limits.MaxFileBytes)
        {
            throw TooLarge(sourceName, bytes.Length, limits.MaxFileBytes);
        }

        if (Utf16(bytes) is string encoding)
        {
            throw new HierDiffInputException($"{sourceName}:1: the file is {encoding} text; save it as UTF-8");
        }

        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0)
        {
            throw new HierDiffInputException($"{sourceName}:{LineAt(bytes, nul)}: NUL byte (is this a binary file?)");
        }

        string text = DecodeUtf8(bytes, sourceName);
        var collector = new Collector(sourceName, limits);
        read(bytes, text, collector);

        if (collector.Prompts.Count == 0)
        {
            throw new HierDiffInputException($"{sourceName}:1: no prompts in the file");
        }

        return new PromptSet(sourceName, collector.Prompts);
    }

    /// <summary>"UTF-16 (little-endian)" and so on where the bytes are UTF-16: a byte-order mark, or ASCII text
    /// with a zero byte beside every character, which is what such files mostly hold.</summary>
    private static string? Utf16(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            return "UTF-16 (little-endian, with a byte-order mark)";
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            return "UTF-16 (big-endian, with a byte-order mark)";
        }

        if (bytes.Length < 4)
        {
            return null;
        }

        ReadOnlySpan<byte> head = bytes[..Math.Min(bytes.Length & ~1, 256)];
        bool evenZero = true, oddZero = true;
        for (int i = 0; i < head.Length; i += 2)
        {
            evenZero &= head[i] == 0 && head[i + 1] != 0;
            oddZero &= head[i + 1] == 0 && head[i] != 0;
        }

        return oddZero ? "UTF-16 (little-endian)" : evenZero ? "UTF-16 (big-endian)" : null;
    }

    private static string DecodeUtf8(ReadOnlySpan<byte> bytes, string sourceName)
    {
        char[] buffer = ArrayPool<char>.Shared.Rent(bytes.Length);
        try
        {
            OperationStatus status = Utf8.ToUtf16(bytes, buffer, out int read, out int written, replaceInvalidSequences: false);
            if (status != OperationStatus.Done)
            {
                throw new HierDiffInputException(
                    $"{sourceName}:{LineAt(bytes, read)}: invalid UTF-8 (byte 0x{bytes[read]:X2} at offset {read})");
            }

            return new string(buffer, 0, written);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private static int LineAt(ReadOnlySpan<byte> bytes, int offset) => bytes[..offset].Count((byte)'\n') + 1;

    private static void ReadText(string text, Collector collector)
    {
        int line = 0;
        foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
        {
            line++;
            string prompt = raw.Trim().ToString();
            if (prompt.Length > 0)
            {
                collector.Add(prompt, line);
            }
        }
    }

    private static void ReadJson(ReadOnlySpan<byte> bytes, Collector collector)
    {
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                throw collector.Error(LineAt(bytes, (int)reader.TokenStartIndex), "expected a JSON array of prompts");
            }

            int element = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int line = LineAt(bytes, (int)reader.TokenStartIndex);
                collector.Add(ReadPromptValue(ref reader, collector, line, $"element {element}"), line);
                element++;
            }

            if (reader.Read())
            {
                throw collector.Error(LineAt(bytes, (int)reader.TokenStartIndex), "unexpected content after the prompt array");
            }
        }
        catch (JsonException e)
        {
            throw collector.Error((int)(e.LineNumber ?? 0) + 1, $"invalid JSON: {FirstSentence(e.Message)}");
        }
    }

    private static void ReadJsonLines(string text, Collector collector)
    {
        int line = 0;
        foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
        {
            line++;
            if (raw.IsWhiteSpace())
            {
                continue;
            }

            byte[] utf8 = Encoding.UTF8.GetBytes(raw.ToString());
            var reader = new Utf8JsonReader(utf8);
            try
            {
                reader.Read();
                string prompt = ReadPromptValue(ref reader, collector, line, "the line");
                reader.Read(); // throws if a second value follows on the line

                collector.Add(prompt, line);
            }
            catch (JsonException e)
            {
                throw collector.Error(line, $"invalid JSON: {FirstSentence(e.Message)}");
            }
        }
    }

    /// <summary>Reads a string, or an object's "prompt" string field, leaving the reader on the value's last token.</summary>
    private static string ReadPromptValue(ref Utf8JsonReader reader, Collector collector, int line, string what)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.GetString()!;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw collector.Error(line, $"{what} is {Describe(reader.TokenType)}; expected a string or an object with a \"prompt\" field");
        }

        string? prompt = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isPrompt = reader.ValueTextEquals("prompt"u8);
            reader.Read();
            if (!isPrompt)
            {
                reader.Skip();
                continue;
            }

            if (reader.TokenType != JsonTokenType.String)
            {
                throw collector.Error(line, $"{what}: \"prompt\" is {Describe(reader.TokenType)}; expected a string");
            }

            prompt = reader.GetString();
        }

        return prompt ?? throw collector.Error(line, $"{what} is an object without a \"prompt\" field");
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => token.ToString(),
    };

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return (end > 0 ? message[..end] : message).Trim();
    }

    private static void ReadCsv(string text, Collector collector)
    {
        int column = -1;
        foreach ((List<string> fields, int line) in CsvRecords.Parse(text, collector.Source))
        {
            if (column < 0)
            {
                column = fields.FindIndex(f => f.Trim().Equals("prompt", StringComparison.OrdinalIgnoreCase));
                if (column < 0)
                {
                    throw collector.Error(line, $"no 'prompt' column in the header (found: {string.Join(", ", fields)})");
                }

                continue;
            }

            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue; // a blank line
            }

            if (column >= fields.Count)
            {
                throw collector.Error(line, $"the row has {fields.Count} fields; the 'prompt' column is field {column + 1}");
            }

            string prompt = fields[column].Trim();
            if (prompt.Length > 0)
            {
                collector.Add(prompt, line);
            }
        }

        if (column < 0)
        {
            throw collector.Error(1, "no header row with a 'prompt' column");
        }
    }

    /// <summary>Accumulates prompts and applies the limits, naming the line of the first offence.</summary>
    private sealed class Collector(string source, PromptFileLimits limits)
    {
        public string Source { get; } = source;

        public List<Prompt> Prompts { get; } = [];

        public void Add(string text, int line)
        {
            text = text.Trim();
            if (text.Length == 0)
            {
                throw Error(line, "the prompt is empty");
            }

            if (!text.Any(IsVisible))
            {
                string codes = string.Join(" ", text.Distinct().Take(4).Select(c => $"U+{(int)c:X4}"));
                throw Error(line, $"the prompt is empty: it holds only invisible characters ({codes})");
            }

            if (text.Length > limits.MaxPromptLength)
            {
                throw Error(line, $"the prompt is {text.Length} characters long; the limit is {limits.MaxPromptLength} ({PromptFileLimits.Setting("MaxPromptLength")})");
            }

            if (Prompts.Count >= limits.MaxPrompts)
            {
                throw Error(line, $"more than {limits.MaxPrompts} prompts; the limit is {limits.MaxPrompts} ({PromptFileLimits.Setting("MaxPrompts")}); split the file or raise the limit");
            }

            Prompts.Add(new Prompt(Prompts.Count, text, line));
        }

        public HierDiffInputException Error(int line, string problem) => new($"{Source}:{line}: {problem}");

        /// <summary>Anything a text encoder sees as text: not white space, a control or a format character (zero-width
        /// space, joiners, byte-order marks, direction marks).</summary>
        private static bool IsVisible(char c) =>
            !char.IsWhiteSpace(c) && !char.IsControl(c) && System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) != System.Globalization.UnicodeCategory.Format;
    }
}
