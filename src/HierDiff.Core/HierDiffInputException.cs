namespace HierDiff.Core;

/// <summary>
/// Bad user input: a prompt file, an embedding matrix, a scheduler config, an option value.
/// The message is one line that names the problem and the place (file, line, row, prompt),
/// so that a command-line tool can print it as it is and exit with code 2.
/// </summary>
public class HierDiffInputException : Exception
{
    public HierDiffInputException(string message)
        : base(message)
    {
    }

    public HierDiffInputException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
