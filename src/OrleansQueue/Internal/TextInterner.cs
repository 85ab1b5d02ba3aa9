namespace OrleansQueue.Internal;

/// <summary>
/// One instance per distinct text (up to <see cref="MaxStrings"/>): the binary encoding stores a repeated instance once
/// per record, so a thousand messages that failed the same way cost one copy of the text in the cursor, not a thousand.
/// </summary>
internal sealed class TextInterner
{
    /// <summary>Most distinct texts kept.</summary>
    public const int MaxStrings = 1024;

    private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);

    public string? Intern(string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (_texts.TryGetValue(text, out var known))
        {
            return known;
        }

        if (_texts.Count < MaxStrings)
        {
            _texts[text] = text;
        }

        return text;
    }
}
