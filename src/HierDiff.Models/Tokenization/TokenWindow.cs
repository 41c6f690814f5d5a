namespace HierDiff.Models.Tokenization;

/// <summary>
/// A prompt's ids in the fixed-length window a CLIP text encoder reads: start token, tokens, end token, then pad.
/// </summary>
/// <param name="Ids">Exactly the window's length; when the text is too long, its first ids and then the end token.</param>
/// <param name="TokenCount">How many ids the whole text needs, start and end tokens included.</param>
/// <param name="Truncated">True when <paramref name="TokenCount"/> exceeds the window, so the end of the text is lost.</param>
public sealed record TokenWindow(int[] Ids, int TokenCount, bool Truncated);
