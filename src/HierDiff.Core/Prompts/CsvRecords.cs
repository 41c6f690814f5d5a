using System.Text;

namespace HierDiff.Core.Prompts;

/// <summary>RFC 4180 records: comma-separated, double-quoted fields may hold commas, quotes ("") and newlines.</summary>
internal static class CsvRecords
{
    /// <summary>Yields each record's fields and the line it starts on.</summary>
    public static IEnumerable<(List<string> Fields, int Line)> Parse(string text, string source)
    {
        int line = 1;
        int i = 0;
        while (i < text.Length)
        {
            int recordLine = line;
            var fields = new List<string>();
            var field = new StringBuilder();
            bool endOfRecord = false;
            while (!endOfRecord)
            {
                if (i < text.Length && text[i] == '"')
                {
                    i++;
                    while (true)
                    {
                        if (i >= text.Length)
                        {
                            throw new HierDiffInputException($"{source}:{recordLine}: a quoted field is never closed");
                        }

                        char c = text[i++];
                        if (c == '"')
                        {
                            if (i < text.Length && text[i] == '"')
                            {
                                field.Append('"');
                                i++;
                                continue;
                            }

                            break;
                        }

                        if (c == '\n')
                        {
                            line++;
                        }

                        field.Append(c);
                    }
                }

                while (i < text.Length && text[i] != ',' && text[i] != '\n')
                {
                    if (text[i] != '\r')
                    {
                        field.Append(text[i]);
                    }

                    i++;
                }

                fields.Add(field.ToString());
                field.Clear();
                if (i >= text.Length)
                {
                    endOfRecord = true;
                }
                else if (text[i] == ',')
                {
                    i++;
                }
                else
                {
                    i++; // the newline
                    line++;
                    endOfRecord = true;
                }
            }

            yield return (fields, recordLine);
        }
    }
}
