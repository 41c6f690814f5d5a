using System.Text.Encodings.Web;
using System.Text.Json;
using HierDiff.Models.Tokenization;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff tokenize</c>: each prompt's CLIP token ids, one JSON line a prompt.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = new Option<DirectoryInfo>("--tokenizer")
        {
            Description = "CLIP tokenizer folder holding vocab.json and merges.txt, e.g. the tokenizer/ folder of a Stable Diffusion export",
            Required = true,
        };
        var prompts = new Option<FileInfo>("--prompts")
        {
            Description = "Prompt file: .txt (one prompt a line), .json, .jsonl or .csv (a prompt column)",
            Required = true,
        };

        var command = new Command(
            "tokenize",
            "Print each prompt's CLIP token ids as a JSON line {\"text\", \"ids\"}: start and end tokens included, not cut to 77")
        {
            tokenizer, prompts,
        };
        command.SetAction(parse =>
        {
            ClipTokenizer clip = ClipTokenizer.Load(parse.GetValue(tokenizer)!.ToString());
            PromptSet set = PromptFileReader.Read(parse.GetValue(prompts)!.ToString());
            WriteLines(clip, set);
            return 0;
        });
        return command;
    }

    private static void WriteLines(ClipTokenizer clip, PromptSet set)
    {
        using var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
        // Relaxed escaping keeps non-ASCII text readable; JSON still escapes quotes, backslashes and control characters.
        var options = new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var writer = new Utf8JsonWriter(stdout, options);
        foreach (Prompt prompt in set.Prompts)
        {
            writer.WriteStartObject();
            writer.WriteString("text", prompt.Text);
            writer.WriteStartArray("ids");
            foreach (int id in clip.Encode(prompt.Text))
            {
                writer.WriteNumberValue(id);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.Flush();
            stdout.Write("\n"u8);
            writer.Reset(stdout);
        }

        stdout.Flush();
    }
}
