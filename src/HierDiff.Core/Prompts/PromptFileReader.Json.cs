using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace HierDiff.Core.Prompts;

public static partial class PromptFileReader
{
    private static IEnumerable<(string Text, int Line)> ReadJson(PromptFileChunks file, Collector collector)
    {
        var array = new JsonPromptArray(file, collector);
        while (array.Next(out string? prompt, out int line))
        {
            yield return (prompt, line);
        }
    }

    private static string ParseJsonLine(string raw, int line, Collector collector)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(raw);
        var reader = new Utf8JsonReader(utf8);
        try
        {
            reader.Read();
            string prompt = TryReadPromptValue(ref reader, collector, line, "the line", out string? value)
                ? value
                : throw new UnreachableException("a reader of the whole line never runs out inside a value");
            reader.Read(); // throws if a second value follows on the line

            return prompt;
        }
        catch (JsonException e)
        {
            throw collector.Error(line, $"invalid JSON: {FirstSentence(e.Message)}");
        }
    }

    /// <summary>Reads a string, or an object's "prompt" string field, leaving the reader on the value's last token;
    /// false where the reader's bytes end inside the value, which only a reader short of the file's end finds (the
    /// value is then read again, with more of the file).</summary>
    private static bool TryReadPromptValue(
        ref Utf8JsonReader reader, Collector collector, int line, string what, [NotNullWhen(true)] out string? prompt)
    {
        prompt = null;
        if (reader.TokenType == JsonTokenType.String)
        {
            prompt = Text(ref reader, collector, line, what);
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw collector.Error(line, $"{what} is {Describe(reader.TokenType)}; expected a string or an object with a \"prompt\" field");
        }

        while (true)
        {
            if (!reader.Read())
            {
                return false;
            }

            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                break; // the object's end
            }

            bool isPrompt = reader.ValueTextEquals("prompt"u8);
            if (!reader.Read())
            {
                return false;
            }

            if (!isPrompt)
            {
                if (!reader.TrySkip())
                {
                    return false;
                }

                continue;
            }

            if (reader.TokenType != JsonTokenType.String)
            {
                throw collector.Error(line, $"{what}: \"prompt\" is {Describe(reader.TokenType)}; expected a string");
            }

            prompt = Text(ref reader, collector, line, what);
        }

        return prompt is not null ? true : throw collector.Error(line, $"{what} is an object without a \"prompt\" field");
    }

    /// <summary>A JSON string's text. An escaped half of a surrogate pair ("\ud83d" alone) is valid JSON that no text
    /// is: refused as input, naming it, rather than failing inside the reader.</summary>
    private static string Text(ref Utf8JsonReader reader, Collector collector, int line, string what)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw collector.Error(line, $"{what} holds an escaped lone surrogate (a \\uD800-\\uDFFF escape without its pair); it is not text");
        }
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => token.ToString(),
    };

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return (end > 0 ? message[..end] : message).Trim();
    }

    /// <summary>
    /// The elements of a JSON prompt array, read by a <see cref="Utf8JsonReader"/> over a window of the file: the reader
    /// stops where the window's bytes end, its state is kept, and the window is refilled from the file's chunks, grown
    /// when one element does not fit in it. Lines are counted by '\n' in the bytes the window lets go.
    /// </summary>
    private sealed class JsonPromptArray(PromptFileChunks file, Collector collector)
    {
        /// <summary>The window's first size; one larger element doubles it until the element fits.</summary>
        internal const int InitialWindowBytes = 16 * 1024;

        private enum Place
        {
            BeforeTheArray,
            InTheArray,
            AfterTheArray,
        }

        /// <summary>What one step of reading did.</summary>
        private enum Step
        {
            Read,
            Prompt,
            NeedsMore,
            End,
        }

        private byte[] _window = new byte[InitialWindowBytes];
        private int _start;          // _window[_start.._end]: the bytes the reader has not yet consumed
        private int _end;
        private int _line = 1;       // the line of _window[_start]
        private bool _final;         // the window holds the end of the file
        private int _chunkPosition;  // how much of the file's current chunk is in the window
        private JsonReaderState _state = new(new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        private Place _place;
        private int _element;

        /// <summary>The next element's prompt and line; false once the array has ended and the file after it has been
        /// read (comments and white space only).</summary>
        public bool Next([NotNullWhen(true)] out string? prompt, out int line)
        {
            while (true)
            {
                Step step;
                try
                {
                    step = TryStep(out prompt, out line);
                }
                catch (JsonException e)
                {
                    throw collector.Error((int)(e.LineNumber ?? 0) + 1, $"invalid JSON: {FirstSentence(e.Message)}");
                }

                switch (step)
                {
                    case Step.Prompt:
                        Debug.Assert(prompt is not null);
                        return true;
                    case Step.End:
                        return false;
                    case Step.NeedsMore:
                        Refill();
                        break;
                }
            }
        }

        /// <summary>Reads the array's start, one element, its end or what follows it, from the state after the last
        /// step. An element the window ends inside is left unread, to be read again from its start once there is more.</summary>
        private Step TryStep(out string? prompt, out int line)
        {
            prompt = null;
            line = 0;
            var reader = new Utf8JsonReader(_window.AsSpan(_start, _end - _start), _final, _state);
            switch (_place)
            {
                case Place.BeforeTheArray:
                    if (!reader.Read() && !_final)
                    {
                        Consume(ref reader); // white space and comments
                        return Step.NeedsMore;
                    }

                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw collector.Error(LineAt(reader.TokenStartIndex), "expected a JSON array of prompts");
                    }

                    Consume(ref reader);
                    _place = Place.InTheArray;
                    return Step.Read;

                case Place.InTheArray:
                    if (!reader.Read())
                    {
                        Consume(ref reader);
                        return Step.NeedsMore;
                    }

                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        Consume(ref reader);
                        _place = Place.AfterTheArray;
                        return Step.Read;
                    }

                    line = LineAt(reader.TokenStartIndex);
                    if (!TryReadPromptValue(ref reader, collector, line, $"element {_element}", out prompt))
                    {
                        return Step.NeedsMore;
                    }

                    Consume(ref reader);
                    _element++;
                    return Step.Prompt;

                default:
                    if (reader.Read())
                    {
                        throw collector.Error(LineAt(reader.TokenStartIndex), "unexpected content after the prompt array");
                    }

                    Consume(ref reader);
                    return _final ? Step.End : Step.NeedsMore;
            }
        }

        private int LineAt(long index) => _line + _window.AsSpan(_start, (int)index).Count((byte)'\n');

        /// <summary>Lets go of the bytes the reader has consumed, keeping its state for the next step.</summary>
        private void Consume(ref Utf8JsonReader reader)
        {
            int consumed = (int)reader.BytesConsumed;
            _line += _window.AsSpan(_start, consumed).Count((byte)'\n');
            _start += consumed;
            _state = reader.CurrentState;
        }

        /// <summary>Moves the unconsumed bytes to the window's front (doubling the window when they fill it) and fills
        /// the rest from the file.</summary>
        private void Refill()
        {
            if (_final)
            {
                throw new UnreachableException("a reader of the file's end never needs more of it");
            }

            int unconsumed = _end - _start;
            if (unconsumed == _window.Length)
            {
                Array.Resize(ref _window, _window.Length * 2);
            }
            else
            {
                _window.AsSpan(_start, unconsumed).CopyTo(_window);
            }

            _start = 0;
            _end = unconsumed;
            while (_end < _window.Length)
            {
                if (_chunkPosition == file.Bytes.Length)
                {
                    if (!file.MoveNext())
                    {
                        _final = true;
                        return;
                    }

                    _chunkPosition = 0;
                    continue;
                }

                int count = Math.Min(_window.Length - _end, file.Bytes.Length - _chunkPosition);
                file.Bytes.Slice(_chunkPosition, count).CopyTo(_window.AsSpan(_end));
                _chunkPosition += count;
                _end += count;
            }
        }
    }
}
