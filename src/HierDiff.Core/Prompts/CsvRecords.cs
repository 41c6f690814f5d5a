using System.Text;

namespace HierDiff.Core.Prompts;

/// <summary>RFC 4180 records: comma-separated, double-quoted fields may hold commas, quotes ("") and newlines.</summary>
internal static class CsvRecords
{
    /// <summary>Yields each record's fields and the line it starts on, reading the text no further than the record's
    /// end, so that a large file is read a record at a time.</summary>
    public static IEnumerable<(List<string> Fields, int Line)> Parse(TextReader text, string source)
    {
        int line = 1;
        while (text.Peek() >= 0)
        {
            int recordLine = line;
            var fields = new List<string>();
            var field = new StringBuilder();
            bool endOfRecord = false;
            while (!endOfRecord)
            {
                if (text.Peek() == '"')
                {
                    text.Read();
                    while (true)
                    {
                        int c = text.Read();
                        if (c < 0)
                        {
                            throw new HierDiffInputException($"{source}:{recordLine}: a quoted field is never closed");
                        }

                        if (c == '"')
                        {
                            if (text.Peek() == '"')
                            {
                                field.Append('"');
                                text.Read();
                                continue;
                            }

                            break;
                        }

                        if (c == '\n')
                        {
                            line++;
                        }

                        field.Append((char)c);
                    }
                }

                for (int c = text.Peek(); c >= 0 && c != ',' && c != '\n'; c = text.Peek())
                {
                    if (c != '\r')
                    {
                        field.Append((char)c);
                    }

                    text.Read();
                }

                fields.Add(field.ToString());
                field.Clear();
                int end = text.Read(); // a comma, a newline, or -1 at the end of the text
                if (end != ',')
                {
                    if (end == '\n')
                    {
                        line++;
                    }

                    endOfRecord = true;
                }
            }

            yield return (fields, recordLine);
        }
    }
}
