using HierDiff.Core.Runs;

namespace HierDiff.ShapesWorld.Evaluation;

/// <summary>
/// Scores each image of a run against its prompt and writes the run's <c>scores.json</c>: the shapes world's
/// evaluator (<see cref="ShapesEvaluator"/>, the default for the built-in models) or a CLIP model. Every evaluator
/// writes the same top-level fields (evaluator, tie_threshold, mode, savings, mean_score, diversity, images with index,
/// prompt, image and score), so compare, report and tune read any of them.
/// </summary>
public interface IRunEvaluator
{
    /// <summary>What scores.json and compare.json name the evaluator by: "shapes", or "clip:" and the CLIP folder's name.</summary>
    string Name { get; }

    /// <summary>Two scores closer than this are a tie in a comparison.</summary>
    double TieThreshold { get; }

    /// <summary>Scores the run and writes its scores.json.</summary>
    SavedScores Evaluate(RunManifest manifest);
}

/// <summary>The shapes world's evaluator (<see cref="ImageEvaluator"/>), scores from 0 to 1.</summary>
public sealed class ShapesEvaluator : IRunEvaluator
{
    public const string EvaluatorName = "shapes";

    /// <summary>A hundredth of the score's range: scores of one image re-read after PNG re-encoding or resizing
    /// move by less than that.</summary>
    public const double DefaultTieThreshold = 0.01;

    public static ShapesEvaluator Instance { get; } = new();

    public string Name => EvaluatorName;

    public double TieThreshold => DefaultTieThreshold;

    public SavedScores Evaluate(RunManifest manifest) => RunEvaluation.Evaluate(manifest).Saved();
}
