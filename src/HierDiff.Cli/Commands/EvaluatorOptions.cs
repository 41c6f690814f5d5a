using HierDiff.Report;
using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Cli.Commands;

/// <summary>Which evaluator scores runs, the same on every command that scores (eval, compare, tune):
/// <c>--evaluator DIR</c>, a CLIP export, or by default the shapes world's evaluator.</summary>
internal sealed class EvaluatorOptions
{
    private readonly Option<DirectoryInfo?> _evaluator = new("--evaluator")
    {
        Description = "A CLIP ONNX export as optimum writes it (model.onnx, or text_model.onnx and vision_model.onnx, with the tokenizer files " +
            "and preprocessor_config.json) to score images with CLIP scores; default: the shapes world's evaluator",
    };

    private readonly Option<string> _device = new("--evaluator-device") { Description = "Where CLIP runs: cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };

    public void AddTo(Command command)
    {
        command.Options.Add(_evaluator);
        command.Options.Add(_device);
    }

    /// <summary>The CLIP evaluator the command line names, or null where it names none.</summary>
    public ClipEvaluator? Clip(ParseResult parse) =>
        parse.GetValue(_evaluator) is DirectoryInfo dir ? ClipEvaluator.Load(dir.ToString(), OnnxDevice.Parse(parse.GetValue(_device)!)) : null;

    /// <summary>The evaluator the command line names: CLIP, or the shapes world's.</summary>
    public IRunEvaluator Evaluator(ParseResult parse) => (IRunEvaluator?)Clip(parse) ?? ShapesEvaluator.Instance;
}
