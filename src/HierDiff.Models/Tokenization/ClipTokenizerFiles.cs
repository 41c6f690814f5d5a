using System.Text.Encodings.Web;
using System.Text.Json;
using HierDiff.Core;

namespace HierDiff.Models.Tokenization;

/// <summary>Reads and checks the files of a CLIP tokenizer folder; every rejection names the file.</summary>
internal static class ClipTokenizerFiles
{
    public const string VocabFile = "vocab.json";
    public const string MergesFile = "merges.txt";
    public const string ConfigFile = "tokenizer_config.json";
    public const string SpecialTokensFile = "special_tokens_map.json";

    private static readonly JsonSerializerOptions QuoteOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>vocab.json: a JSON object from token to id; the ids must be 0..count-1, each once.</summary>
    public static Dictionary<string, int> ReadVocab(string path, out string[] tokens)
    {
        using JsonDocument document = ParseJson(path, ReadBytes(path));
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new HierDiffInputException($"{path}: expected a JSON object from token to id, not a {Describe(document.RootElement.ValueKind)}");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in document.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
            {
                throw new HierDiffInputException($"{path}: the id of {Quote(entry.Name)} is not an integer");
            }

            if (!vocab.TryAdd(entry.Name, id))
            {
                throw new HierDiffInputException($"{path}: {Quote(entry.Name)} appears twice");
            }

            foreach (char c in entry.Name)
            {
                if (!ByteAlphabet.Contains(c))
                {
                    throw new HierDiffInputException(
                        $"{path}: token {Quote(entry.Name)} has a character outside CLIP's byte alphabet (U+{(int)c:X4})");
                }
            }
        }

        tokens = new string[vocab.Count];
        foreach ((string token, int id) in vocab)
        {
            if (id < 0 || id >= tokens.Length)
            {
                throw new HierDiffInputException($"{path}: id {id} of {Quote(token)} is outside 0..{tokens.Length - 1}");
            }

            if (tokens[id] is string other)
            {
                throw new HierDiffInputException($"{path}: id {id} is given to both {Quote(other)} and {Quote(token)}");
            }

            tokens[id] = token;
        }

        for (int b = 0; b < 256; b++)
        {
            string symbol = ByteAlphabet.CharOfByte[b].ToString();
            foreach (string needed in new[] { symbol, symbol + ClipTokenizer.WordEnd })
            {
                if (!vocab.ContainsKey(needed))
                {
                    throw new HierDiffInputException($"{path}: no entry for {Quote(needed)}, the symbol of byte 0x{b:X2}; this is not a CLIP vocabulary");
                }
            }
        }

        foreach (string special in new[] { ClipTokenizer.StartToken, ClipTokenizer.EndToken })
        {
            if (!vocab.ContainsKey(special))
            {
                throw new HierDiffInputException($"{path}: no entry for {Quote(special)}");
            }
        }

        return vocab;
    }

    /// <summary>
    /// merges.txt: a "#version" line, then one merge "a b" a line, most frequent first; a line's order is its rank.
    /// Both symbols and their concatenation must be in the vocabulary. Blank lines are skipped.
    /// </summary>
    public static List<(int Left, int Right, int Merged)> ReadMerges(string path, Dictionary<string, int> vocab, string vocabPath)
    {
        string text;
        try
        {
            text = new System.Text.UTF8Encoding(false, true).GetString(ReadBytes(path));
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new HierDiffInputException($"{path}: not UTF-8 text");
        }

        string[] lines = text.TrimStart('\uFEFF').Split('\n');
        if (!lines[0].StartsWith("#version", StringComparison.Ordinal))
        {
            throw new HierDiffInputException($"{path}:1: expected the '#version: ...' header line");
        }

        var merges = new List<(int, int, int)>(lines.Length);
        for (int n = 1; n < lines.Length; n++)
        {
            string line = lines[n];
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
            {
                throw new HierDiffInputException($"{path}:{n + 1}: expected two symbols separated by a space, not {Quote(line.TrimEnd('\r'))}");
            }

            string merged = parts[0] + parts[1];
            foreach (string symbol in new[] { parts[0], parts[1], merged })
            {
                if (!vocab.ContainsKey(symbol))
                {
                    throw new HierDiffInputException($"{path}:{n + 1}: {Quote(symbol)} is not in {vocabPath}");
                }
            }

            merges.Add((vocab[parts[0]], vocab[parts[1]], vocab[merged]));
        }

        return merges;
    }

    /// <summary>
    /// The pad token named by special_tokens_map.json, else by tokenizer_config.json (Hugging Face reads them in that
    /// order of precedence), as a string or an object with "content"; null when neither file names one.
    /// </summary>
    public static (string Token, string Source)? ReadPadToken(string directory)
    {
        foreach (string name in new[] { SpecialTokensFile, ConfigFile })
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                continue;
            }

            using JsonDocument document = ParseJson(path, ReadBytes(path));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new HierDiffInputException($"{path}: expected a JSON object, not a {Describe(document.RootElement.ValueKind)}");
            }

            if (!document.RootElement.TryGetProperty("pad_token", out JsonElement pad) || pad.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (pad.ValueKind == JsonValueKind.String)
            {
                return (pad.GetString()!, path);
            }

            if (pad.ValueKind == JsonValueKind.Object && pad.TryGetProperty("content", out JsonElement content)
                && content.ValueKind == JsonValueKind.String)
            {
                return (content.GetString()!, path);
            }

            throw new HierDiffInputException($"{path}: pad_token must be a string or an object with a string \"content\"");
        }

        return null;
    }

    private static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new HierDiffInputException($"{path}: not found; a CLIP tokenizer folder holds {VocabFile} and {MergesFile}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HierDiffInputException($"{path}: cannot read: {e.Message}", e);
        }
    }

    private static JsonDocument ParseJson(string path, byte[] bytes)
    {
        try
        {
            ReadOnlyMemory<byte> json = bytes;
            return JsonDocument.Parse(json.Span.StartsWith("\uFEFF"u8) ? json[3..] : json);
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{path}: not valid JSON: {e.Message}", e);
        }
    }

    private static string Describe(JsonValueKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>A token in double quotes, escaped as JSON so that the message stays on one line.</summary>
    internal static string Quote(string token) => JsonSerializer.Serialize(token, QuoteOptions);
}
