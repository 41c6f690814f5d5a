using System.Collections.Concurrent;
using System.Text;
using HierDiff.Core;

namespace HierDiff.Models.Tokenization;

/// <summary>
/// CLIP's byte-level BPE tokenizer, giving the same ids as OpenAI's <c>simple_tokenizer</c> (github.com/openai/CLIP)
/// with ftfy's text fixing left out, and as Hugging Face's <c>CLIPTokenizer</c> of Stable Diffusion exports.
/// </summary>
/// <remarks>
/// Text is cleaned (HTML entities decoded twice, whitespace runs collapsed, ends stripped, lower-cased; see
/// <see cref="ClipTextCleaner"/>), split with CLIP's pattern (<see cref="ClipPreTokenizer"/>, note that numbers are
/// split into single digits), and each word's UTF-8 bytes are spelled in GPT-2's byte alphabet and merged pair by
/// pair, lowest merge rank first, with "&lt;/w&gt;" on the last symbol. Instances are immutable apart from a word
/// cache and safe to use from several threads.
/// </remarks>
public sealed class ClipTokenizer
{
    public const string StartToken = "<|startoftext|>";
    public const string EndToken = "<|endoftext|>";

    /// <summary>The window of CLIP's text encoder (and of Stable Diffusion's), in tokens.</summary>
    public const int DefaultLength = 77;

    internal const string WordEnd = "</w>";

    // A bound on the word cache, so that a long-running process tokenizing unbounded text does not grow without end.
    private const int MaxCachedWords = 200_000;

    private readonly string[] _tokens;
    private readonly Dictionary<long, int> _rankOfPair;
    private readonly (int Left, int Right, int Merged)[] _merges;
    private readonly int[] _byteIds = new int[256];
    private readonly int[] _byteEndIds = new int[256];
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cachedWords;

    private ClipTokenizer(Dictionary<string, int> vocab, string[] tokens, List<(int Left, int Right, int Merged)> merges, string padToken)
    {
        _tokens = tokens;
        _merges = [.. merges];
        _rankOfPair = new Dictionary<long, int>(merges.Count);
        for (int rank = 0; rank < _merges.Length; rank++)
        {
            // A pair listed twice keeps its last rank, as Python's dict(zip(merges, range(...))) does.
            _rankOfPair[PairKey(_merges[rank].Left, _merges[rank].Right)] = rank;
        }

        for (int b = 0; b < 256; b++)
        {
            string symbol = ByteAlphabet.CharOfByte[b].ToString();
            _byteIds[b] = vocab[symbol];
            _byteEndIds[b] = vocab[symbol + WordEnd];
        }

        StartTokenId = vocab[StartToken];
        EndTokenId = vocab[EndToken];
        PadToken = padToken;
        PadTokenId = vocab[padToken];
    }

    /// <summary>Id of <c>&lt;|startoftext|&gt;</c>, first in every encoding (49406 in CLIP's vocabulary).</summary>
    public int StartTokenId { get; }

    /// <summary>Id of <c>&lt;|endoftext|&gt;</c>, last in every encoding (49407 in CLIP's vocabulary).</summary>
    public int EndTokenId { get; }

    /// <summary>Id that fills a window after the end token: the end token by default (SD 1.x), "!" = 0 in SD 2.x.</summary>
    public int PadTokenId { get; }

    /// <summary>The pad token's text.</summary>
    public string PadToken { get; }

    /// <summary>How many tokens the vocabulary holds.</summary>
    public int VocabularySize => _tokens.Length;

    /// <summary>
    /// Loads a tokenizer folder: <c>vocab.json</c> (token → id) and <c>merges.txt</c> (a "#version" line, then one
    /// merge "a b" a line, in rank order), as in the <c>tokenizer/</c> folder of a diffusers export. The pad token comes
    /// from <c>special_tokens_map.json</c> or <c>tokenizer_config.json</c> ("pad_token") when either names one, and is
    /// the end token otherwise. Missing or malformed files throw <see cref="HierDiffInputException"/> naming the file.
    /// </summary>
    public static ClipTokenizer Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
        {
            throw new HierDiffInputException(
                $"{directory}: no such tokenizer folder; it should hold {ClipTokenizerFiles.VocabFile} and {ClipTokenizerFiles.MergesFile}");
        }

        string vocabPath = Path.Combine(directory, ClipTokenizerFiles.VocabFile);
        Dictionary<string, int> vocab = ClipTokenizerFiles.ReadVocab(vocabPath, out string[] tokens);
        List<(int, int, int)> merges = ClipTokenizerFiles.ReadMerges(Path.Combine(directory, ClipTokenizerFiles.MergesFile), vocab, vocabPath);
        string padToken = EndToken;
        if (ClipTokenizerFiles.ReadPadToken(directory) is (string token, string source))
        {
            if (!vocab.ContainsKey(token))
            {
                throw new HierDiffInputException($"{source}: pad_token {ClipTokenizerFiles.Quote(token)} is not in {vocabPath}");
            }

            padToken = token;
        }

        return new ClipTokenizer(vocab, tokens, merges, padToken);
    }

    /// <summary>
    /// All of <paramref name="text"/>'s ids: start token, the text's tokens, end token; not cut to any length and
    /// not padded. "&lt;|startoftext|&gt;" and "&lt;|endoftext|&gt;" written in the text become those tokens.
    /// </summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(DefaultLength) { StartTokenId };
        foreach (string word in ClipPreTokenizer.Split(ClipTextCleaner.Clean(text)))
        {
            if (word == StartToken)
            {
                ids.Add(StartTokenId);
            }
            else if (word == EndToken)
            {
                ids.Add(EndTokenId);
            }
            else
            {
                ids.AddRange(WordIds(word));
            }
        }

        ids.Add(EndTokenId);
        return [.. ids];
    }

    /// <summary>
    /// <paramref name="text"/>'s ids in a window of exactly <paramref name="length"/>: start token, tokens, end token,
    /// then the pad token. A text that needs more keeps the start token and its first <paramref name="length"/> - 2
    /// tokens, then the end token, as Hugging Face's CLIPTokenizer does with truncation to max_length.
    /// </summary>
    public TokenWindow EncodeWindow(string text, int length = DefaultLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 2);
        int[] all = Encode(text);
        var ids = new int[length];
        if (all.Length > length)
        {
            Array.Copy(all, ids, length - 1);
            ids[length - 1] = EndTokenId;
        }
        else
        {
            all.CopyTo(ids, 0);
            ids.AsSpan(all.Length).Fill(PadTokenId);
        }

        return new TokenWindow(ids, all.Length, all.Length > length);
    }

    /// <summary>
    /// The text of <paramref name="ids"/>, as <c>simple_tokenizer.decode</c> gives it: the tokens' bytes read as UTF-8
    /// (invalid sequences become U+FFFD), each "&lt;/w&gt;" a space, and the ends trimmed. Special tokens, padding
    /// included, appear as their text. That is the cleaned, lower-cased text for what <see cref="Encode"/> gave.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokens.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id {id} is outside the vocabulary (0..{_tokens.Length - 1})");
            }

            foreach (char c in _tokens[id])
            {
                bytes.Add((byte)ByteAlphabet.ByteOfChar[c]);
            }
        }

        return Encoding.UTF8.GetString([.. bytes]).Replace(WordEnd, " ", StringComparison.Ordinal).Trim(' ');
    }

    private int[] WordIds(string word)
    {
        if (_cache.TryGetValue(word, out int[]? cached))
        {
            return cached;
        }

        int[] ids = BytePairEncode(word);
        if (Volatile.Read(ref _cachedWords) < MaxCachedWords && _cache.TryAdd(word, ids))
        {
            Interlocked.Increment(ref _cachedWords);
        }

        return ids;
    }

    /// <summary><c>simple_tokenizer.bpe</c> on vocabulary ids: merge the lowest-ranked adjacent pair everywhere, repeat.</summary>
    private int[] BytePairEncode(string word)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(word);
        var symbols = new List<int>(bytes.Length);
        for (int i = 0; i < bytes.Length - 1; i++)
        {
            symbols.Add(_byteIds[bytes[i]]);
        }

        symbols.Add(_byteEndIds[bytes[^1]]);
        var merged = new List<int>(bytes.Length);
        while (symbols.Count > 1)
        {
            int best = int.MaxValue;
            for (int i = 0; i < symbols.Count - 1; i++)
            {
                if (_rankOfPair.TryGetValue(PairKey(symbols[i], symbols[i + 1]), out int rank) && rank < best)
                {
                    best = rank;
                }
            }

            if (best == int.MaxValue)
            {
                break;
            }

            (int left, int right, int result) = _merges[best];
            merged.Clear();
            for (int i = 0; i < symbols.Count; i++)
            {
                if (symbols[i] == left && i < symbols.Count - 1 && symbols[i + 1] == right)
                {
                    merged.Add(result);
                    i++;
                }
                else
                {
                    merged.Add(symbols[i]);
                }
            }

            (symbols, merged) = (merged, symbols);
        }

        return [.. symbols];
    }

    private static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;
}
