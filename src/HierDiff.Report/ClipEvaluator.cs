using System.Text.Json;
using System.Text.Json.Serialization;
using HierDiff.Core;
using HierDiff.Core.Runs;
using HierDiff.Models.Clip;
using HierDiff.Models.Images;
using HierDiff.Models.Onnx;
using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Report;

/// <summary>One image scored by CLIP: 100 x max(cos, 0) of its embedding and its prompt's, and the cosine itself.</summary>
public sealed record ClipImageScore(int Index, string Prompt, string Image, double Score, double Cosine);

/// <summary>A run scored by CLIP: each image, the mean score, and the paper's diversity, the mean pairwise cosine of
/// the image embeddings of <see cref="DiversityImages"/> images drawn with a fixed seed (lower is more diverse).</summary>
public sealed record ClipRunScores(
    string Evaluator,
    IReadOnlyList<ClipImageScore> Images,
    double MeanScore,
    double? Diversity,
    int DiversityImages,
    string? Mode,
    double? Savings,
    long? DenoiserCalls);

/// <summary>
/// Scores a run's images against their prompts with a CLIP export (<see cref="ClipModel"/>), for any model's runs:
/// the CLIP score per image (torchmetrics' CLIPScore: 100 x max(cos, 0)), its mean, and the diversity. Images are
/// read and embedded 16 at a time, so memory stays small whatever the run's size.
/// </summary>
public sealed class ClipEvaluator : IRunEvaluator, IDisposable
{
    /// <summary>
    /// Half a CLIP point. CLIP scores of images matching their prompts sit in a band about ten points wide (roughly
    /// 25-35 for ViT-B/32 and -L/14); a whole model generation moves the mean by about 1.3 (Stable Diffusion 1.4 to 1.5,
    /// 34.9 to 36.2, in diffusers' evaluation guide); and re-encoding or resizing an image moves its score by a few
    /// hundredths. Differences under half a point are not what a user can see, so they count as ties.
    /// </summary>
    public const double DefaultTieThreshold = 0.5;

    /// <summary>Images drawn for the diversity, as the paper does, and the seed that draws them.</summary>
    public const int DiversitySampleSize = 100;
    public const int DiversitySeed = 0;

    private const int Batch = 16;
    private readonly ClipModel _clip;

    public ClipEvaluator(ClipModel clip)
    {
        _clip = clip;
    }

    public string Name => $"clip:{_clip.Name}";

    public double TieThreshold => DefaultTieThreshold;

    /// <summary>Opens the CLIP export in <paramref name="directory"/>.</summary>
    public static ClipEvaluator Load(string directory, OnnxDevice? device = null) => new(ClipModel.Load(directory, device));

    /// <summary>The indices the diversity is measured on: all of them up to <see cref="DiversitySampleSize"/>, else
    /// that many drawn without replacement by a seeded shuffle, in index order.</summary>
    public static int[] DiversitySample(int count)
    {
        int[] all = Enumerable.Range(0, count).ToArray();
        if (count <= DiversitySampleSize)
        {
            return all;
        }

        var random = new Random(DiversitySeed);
        for (int i = 0; i < DiversitySampleSize; i++)
        {
            int j = random.Next(i, count);
            (all[i], all[j]) = (all[j], all[i]);
        }

        return [.. all.Take(DiversitySampleSize).Order()];
    }

    public SavedScores Evaluate(RunManifest manifest)
    {
        ClipRunScores scores = Score(manifest);
        manifest.Folder.Write(RunScoresFile.FileName, JsonSerializer.SerializeToUtf8Bytes(ScoresJson.From(scores, TieThreshold), RunScoresFile.Json));
        return new SavedScores(scores.Images.Select(i => i.Score).ToArray(), scores.MeanScore, scores.Diversity, Name, TieThreshold);
    }

    /// <summary>Scores the run without writing anything.</summary>
    public ClipRunScores Score(RunManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        HashSet<int> sampled = [.. DiversitySample(manifest.Prompts.Count)];
        var images = new List<ClipImageScore>(manifest.Prompts.Count);
        var embeddings = new List<double[]>();
        foreach (RunPrompt[] batch in manifest.Prompts.Chunk(Batch))
        {
            (float[][] texts, float[][] pixels) = _clip.Embed(batch.Select(p => p.Text).ToArray(), batch.Select(p => ReadImage(manifest, p)).ToArray());
            for (int i = 0; i < batch.Length; i++)
            {
                double cosine = ClipModel.Cosine(texts[i], pixels[i]);
                images.Add(new ClipImageScore(batch[i].Index, batch[i].Text, batch[i].Image, ClipModel.ScoreOf(cosine), cosine));
                if (sampled.Contains(images.Count - 1))
                {
                    embeddings.Add([.. pixels[i].Select(v => (double)v)]);
                }
            }
        }

        double? diversity = RunEvaluation.Diversity(embeddings);
        return new ClipRunScores(Name, images, images.Average(i => i.Score), diversity, embeddings.Count, manifest.Mode, manifest.Savings, manifest.DenoiserCalls);
    }

    public void Dispose() => _clip.Dispose();

    private static RgbImage ReadImage(RunManifest manifest, RunPrompt prompt)
    {
        byte[] png = manifest.ReadImage(prompt);
        try
        {
            PngImage image = PngDecoder.Decode(png);
            return new RgbImage(image.Width, image.Height, image.Rgb);
        }
        catch (InvalidDataException e)
        {
            throw new HierDiffInputException($"{manifest.Folder.Show(prompt.Image)}: {e.Message}", e);
        }
    }

    /// <summary>scores.json as every evaluator writes it, with each image's cosine beside its score.</summary>
    private sealed record ScoresJson(
        string Evaluator,
        double TieThreshold,
        string? Mode,
        double? Savings,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? DenoiserCalls,
        double MeanScore,
        double? Diversity,
        int DiversityImages,
        int DiversitySeed,
        IReadOnlyList<ClipImageScore> Images)
    {
        public static ScoresJson From(ClipRunScores s, double tie) =>
            new(s.Evaluator, tie, s.Mode, s.Savings, s.DenoiserCalls, s.MeanScore, s.Diversity, s.DiversityImages, ClipEvaluator.DiversitySeed, s.Images);
    }
}
