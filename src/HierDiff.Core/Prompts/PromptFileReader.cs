using System.Buffers;
using System.Text;

namespace HierDiff.Core.Prompts;

/// <summary>
/// Reads prompt files: <c>.txt</c> (one prompt a line, blank lines skipped), <c>.json</c> (an array of strings or of
/// objects with a <c>prompt</c> field), <c>.jsonl</c> (one string or object a line) and <c>.csv</c> (a <c>prompt</c>
/// column). Every rejection is a <see cref="HierDiffInputException"/> whose one-line message starts "file:line:".
/// </summary>
/// <remarks>
/// There is one way a file is read, <see cref="Stream(System.IO.Stream, string, PromptFileLimits)"/>: a chunk at a time (<see cref="PromptFileChunks"/>), each
/// prompt handed out as soon as it is read, so that a million prompts can be written out as they come.
/// <see cref="Parse"/> and <see cref="Read"/> collect what it hands out.
/// </remarks>
public static partial class PromptFileReader
{
    // Each prompt file type and how it is read: JSON from the bytes, the others from the text.
    private static readonly (string Extension, FormatReader Read)[] Formats =
    [
        (".txt", (file, _) => ReadText(new PromptFileChunks.Text(file))),
        (".json", ReadJson),
        (".jsonl", (file, collector) => ReadJsonLines(new PromptFileChunks.Text(file), collector)),
        (".csv", (file, collector) => ReadCsv(new PromptFileChunks.Text(file), collector)),
    ];

    public static readonly IReadOnlyList<string> SupportedExtensions = [.. Formats.Select(f => f.Extension)];

    /// <summary>Where <see cref="MemoryExtensions.EnumerateLines(ReadOnlySpan{char})"/> ends a line of a string: \r\n
    /// (one break), \r, \n, \f, U+0085, U+2028 and U+2029.</summary>
    private static readonly SearchValues<char> LineBreaks = SearchValues.Create("\r\n\f\u0085\u2028\u2029");

    /// <summary>A format's prompts and their lines, in file order, before the limits are applied to them.</summary>
    private delegate IEnumerable<(string Text, int Line)> FormatReader(PromptFileChunks file, Collector collector);

    public static PromptSet Read(string path, PromptFileLimits? limits = null)
    {
        limits ??= PromptFileLimits.Default;
        using FileStream stream = Open(path);

        // As ReadBytes does: the file's length on disk, byte-order mark and all, before any of it is read.
        RefuseLongerThan(stream, limits.MaxFileBytes, path);
        try
        {
            return new PromptSet(path, [.. Stream(stream, path, limits)]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotRead(path, e);
        }
    }

    /// <summary>Parses a prompt file's bytes; the format follows <paramref name="sourceName"/>'s extension.</summary>
    public static PromptSet Parse(ReadOnlySpan<byte> bytes, string sourceName, PromptFileLimits? limits = null)
    {
        // A span cannot be a stream's: the stream reads a copy.
        using var stream = new MemoryStream(bytes.ToArray(), writable: false);
        return new PromptSet(sourceName, [.. Stream(stream, sourceName, limits)]);
    }

    /// <summary>
    /// The prompts of a prompt file in file order, read from <paramref name="stream"/> as they are enumerated: one
    /// chunk of the file (<see cref="PromptFileChunks.ChunkBytes"/>) and the prompt, line, CSV record or JSON element
    /// being read are all it holds, so a caller that writes the prompts out as they come holds no more than that.
    /// </summary>
    /// <remarks>
    /// The format follows <paramref name="sourceName"/>'s extension; an unsupported one is refused here, before the
    /// stream is touched. Everything else is refused while enumerating, where it is found, with the messages of
    /// <see cref="Parse"/>: a file with several faults is refused for the first in file order, a chunk's NUL bytes and
    /// invalid UTF-8 before the prompts in it. The size limit counts the bytes after a byte-order mark; a stream whose
    /// length is known and passes it is refused after its first chunk, naming the size, any other as soon as it
    /// passes it. The stream is read from where it is and is not disposed; enumerate the prompts once, since a second
    /// time finds the stream where the first left it.
    /// </remarks>
    public static IEnumerable<Prompt> Stream(Stream stream, string sourceName, PromptFileLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        string extension = Path.GetExtension(sourceName).ToLowerInvariant();
        FormatReader read = Array.Find(Formats, f => f.Extension == extension).Read
            ?? throw new HierDiffInputException(
                $"{sourceName}: unsupported prompt file type '{extension}'; use one of {string.Join(", ", SupportedExtensions)}");

        return Prompts(stream, sourceName, limits ?? PromptFileLimits.Default, read);
    }

    private static IEnumerable<Prompt> Prompts(Stream stream, string sourceName, PromptFileLimits limits, FormatReader read)
    {
        var collector = new Collector(sourceName, limits);
        foreach ((string text, int line) in read(new PromptFileChunks(stream, sourceName, limits.MaxFileBytes), collector))
        {
            yield return collector.Add(text, line);
        }

        if (collector.Count == 0)
        {
            throw new HierDiffInputException($"{sourceName}:1: no prompts in the file");
        }
    }

    /// <summary>A prompt file's bytes, read no further than <see cref="PromptFileLimits.MaxFileBytes"/>.</summary>
    public static byte[] ReadBytes(string path, PromptFileLimits limits)
    {
        using FileStream stream = Open(path);
        try
        {
            return ReadCapped(stream, limits.MaxFileBytes, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotRead(path, e);
        }
    }

    /// <summary>Reads a prompt file's bytes from a stream, refusing it as soon as it passes
    /// <paramref name="maxBytes"/>, so an oversized file never sits in memory whole.</summary>
    public static byte[] ReadCapped(Stream stream, long maxBytes, string sourceName)
    {
        RefuseLongerThan(stream, maxBytes, sourceName);
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

    /// <summary>Opens a prompt file, naming a folder, a missing file and one that cannot be read.</summary>
    private static FileStream Open(string path)
    {
        if (Directory.Exists(path))
        {
            throw new HierDiffInputException($"{path}: is a folder, not a prompt file");
        }

        try
        {
            // No buffer of its own: whoever reads it reads large blocks.
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new HierDiffInputException($"{path}: no such prompt file", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotRead(path, e);
        }
    }

    private static HierDiffInputException CannotRead(string path, Exception e) =>
        new($"{path}: cannot read the prompt file: {e.Message}", e);

    /// <summary>Refuses, before reading any of it, a stream whose length is known and passes the limit.</summary>
    private static void RefuseLongerThan(Stream stream, long maxBytes, string sourceName)
    {
        if (stream.CanSeek && stream.Length > maxBytes)
        {
            throw TooLarge(sourceName, stream.Length, maxBytes);
        }
    }

    internal static HierDiffInputException TooLarge(string sourceName, long? size, long maxBytes) => new(
        $"{sourceName}: the prompt file is {(size is long s ? $"{s:N0} bytes" : "larger than that")}; the limit is {maxBytes:N0} bytes ({PromptFileLimits.Setting("MaxPromptFileBytes")})");

    /// <summary>The lines of a text and their numbers, split where string.EnumerateLines splits a string, so that lines
    /// are numbered as they always were; the last line is handed out even when it is empty.</summary>
    private static IEnumerable<(string Text, int Line)> Lines(PromptFileChunks.Text text)
    {
        var line = new StringBuilder();
        int number = 1;
        for (int end = AppendLine(text, line); end >= 0; end = AppendLine(text, line))
        {
            if (end == '\r' && text.Peek() == '\n')
            {
                text.Read();
            }

            yield return (line.ToString(), number++);
            line.Clear();
        }

        yield return (line.ToString(), number);
    }

    /// <summary>Appends the text up to the next line break to <paramref name="line"/> and takes the break: which one it
    /// was, or -1 where the text ended first.</summary>
    private static int AppendLine(PromptFileChunks.Text text, StringBuilder line)
    {
        for (ReadOnlySpan<char> buffered = text.Buffered(); !buffered.IsEmpty; buffered = text.Buffered())
        {
            int end = buffered.IndexOfAny(LineBreaks);
            if (end >= 0)
            {
                line.Append(buffered[..end]);
                text.Skip(end + 1);
                return buffered[end];
            }

            line.Append(buffered);
            text.Skip(buffered.Length);
        }

        return -1;
    }

    private static IEnumerable<(string Text, int Line)> ReadText(PromptFileChunks.Text text)
    {
        foreach ((string raw, int line) in Lines(text))
        {
            string prompt = raw.Trim();
            if (prompt.Length > 0)
            {
                yield return (prompt, line);
            }
        }
    }

    private static IEnumerable<(string Text, int Line)> ReadJsonLines(PromptFileChunks.Text text, Collector collector)
    {
        foreach ((string raw, int line) in Lines(text))
        {
            if (!raw.AsSpan().IsWhiteSpace())
            {
                yield return (ParseJsonLine(raw, line, collector), line);
            }
        }
    }

    private static IEnumerable<(string Text, int Line)> ReadCsv(TextReader text, Collector collector)
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
                yield return (prompt, line);
            }
        }

        if (column < 0)
        {
            throw collector.Error(1, "no header row with a 'prompt' column");
        }
    }

    /// <summary>Numbers the prompts and applies the limits to each as it comes, naming the line of the first offence.</summary>
    private sealed class Collector(string source, PromptFileLimits limits)
    {
        public string Source { get; } = source;

        /// <summary>How many prompts have been added.</summary>
        public int Count { get; private set; }

        public Prompt Add(string text, int line)
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

            if (Count >= limits.MaxPrompts)
            {
                throw Error(line, $"more than {limits.MaxPrompts} prompts; the limit is {limits.MaxPrompts} ({PromptFileLimits.Setting("MaxPrompts")}); split the file or raise the limit");
            }

            return new Prompt(Count++, text, line);
        }

        public HierDiffInputException Error(int line, string problem) => new($"{Source}:{line}: {problem}");

        /// <summary>Anything a text encoder sees as text: not white space, a control or a format character (zero-width
        /// space, joiners, byte-order marks, direction marks).</summary>
        private static bool IsVisible(char c) =>
            !char.IsWhiteSpace(c) && !char.IsControl(c) && System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) != System.Globalization.UnicodeCategory.Format;
    }
}
