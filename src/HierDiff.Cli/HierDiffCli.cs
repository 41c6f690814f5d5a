using System.CommandLine;
using HierDiff.Cli.Commands;
using HierDiff.Core;

namespace HierDiff.Cli;

/// <summary>The <c>hierdiff</c> command line: one subcommand per file under Commands/.</summary>
public static class HierDiffCli
{
    /// <summary>Exit code for bad input or bad options: the message is one line on stderr.</summary>
    public const int InputError = 2;

    public static int Run(string[] args)
    {
        var root = new RootCommand("HierDiff: generate sets of images from text prompts, sharing the early denoising steps of similar prompts.")
        {
            PlanCommand.Create(),
            GenerateCommand.Create(),
            TokenizeCommand.Create(),
            WorldCommand.Create(),
            EvalCommand.Create(),
            CompareCommand.Create(),
            ReportCommand.Create(),
            BenchCommand.Create(),
        };

        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            return Fail(parse.Errors[0].Message);
        }

        try
        {
            // Our own handler prints input errors as one line; anything else is a bug and keeps its stack trace.
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (HierDiffInputException e)
        {
            return Fail(e.Message);
        }
    }

    /// <summary>An option holding a number, with a parse error that says which option and what was wrong.</summary>
    public static Option<double?> NumberOption(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            string token = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (double.TryParse(token, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value))
            {
                return value;
            }

            result.AddError($"{name} expects a number, not '{token}'");
            return null;
        },
    };

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message.ReplaceLineEndings(" ")}");
        return InputError;
    }
}
