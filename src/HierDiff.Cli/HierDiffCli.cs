using HierDiff.Cli.Commands;

namespace HierDiff.Cli;

/// <summary>The <c>hierdiff</c> command line: one subcommand per file under Commands/.</summary>
internal static class HierDiffCli
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
            TuneCommand.Create(),
            UNetTimingCommand.Create(),
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The machine, not the input: a full disk, a folder without write permission, a file that went away.
            Console.Error.WriteLine($"error: {TerminalText.Escape(e.Message.ReplaceLineEndings(" "))}");
            return IoError;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("HIERDIFF_DEBUG") != "1")
        {
            Console.Error.WriteLine($"error: internal error ({e.GetType().Name}: {TerminalText.Escape(e.Message.ReplaceLineEndings(" "))}); " +
                "please report it, with HIERDIFF_DEBUG=1 set for the details");
            return InternalError;
        }
    }

    /// <summary>Exit code for a failure of the machine (disk, permissions) rather than of the input.</summary>
    public const int IoError = 1;

    /// <summary>Exit code for a bug (sysexits' EX_SOFTWARE).</summary>
    public const int InternalError = 70;

    /// <summary>A command over one run folder, named by a required <c>--run</c>: <paramref name="action"/> gets the
    /// folder, and the command exits 0 when it returns (input errors are thrown, as everywhere).</summary>
    public static Command RunFolderCommand(string name, string description, string runDescription, Action<string> action) =>
        RunFolderCommand(name, description, runDescription, (folder, _) => action(folder));

    /// <summary>As above, for a command with options of its own (read from the parse result).</summary>
    public static Command RunFolderCommand(string name, string description, string runDescription, Action<string, ParseResult> action)
    {
        var run = new Option<DirectoryInfo>("--run") { Description = runDescription, Required = true };
        var command = new Command(name, description) { run };
        command.SetAction(parse =>
        {
            action(parse.GetValue(run)!.ToString(), parse);
            return 0;
        });
        return command;
    }

    /// <summary>An option holding a number, with a parse error that says which option and what was wrong.</summary>
    public static Option<double?> NumberOption(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            string token = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (double.TryParse(token, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value)
                && double.IsFinite(value))
            {
                return value;
            }

            result.AddError($"{name} expects a finite number, not '{TerminalText.Escape(token)}'");
            return null;
        },
    };

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {TerminalText.Escape(message.ReplaceLineEndings(" "))}");
        return InputError;
    }
}
