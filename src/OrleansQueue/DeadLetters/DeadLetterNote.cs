namespace OrleansQueue.DeadLetters;

/// <summary>
/// What a consumer says when it dead-letters a message: a short reason and a longer description, kept together in the
/// one description text that pending moves and dead-letter entries store. Text written before reasons existed (no
/// leading separator) reads back as a description alone, so stored data keeps its meaning.
/// </summary>
internal static class DeadLetterNote
{
    /// <summary>Longest reason kept; a longer one is cut.</summary>
    public const int MaxReasonLength = 128;

    private const char Separator = '\u001F'; // ASCII unit separator: never meaningful in a reason or description

    /// <summary>Joins <paramref name="reason"/> and <paramref name="description"/> into at most <paramref name="maxLength"/> characters; each is cut, never rejected.</summary>
    public static string? Encode(string? reason, string? description, int maxLength)
    {
        reason = Clean(reason, MaxReasonLength);
        if (reason is null)
        {
            return Clean(description, maxLength);
        }

        var room = maxLength - reason.Length - 2;
        return $"{Separator}{reason}{Separator}{Clean(description, room)}";
    }

    /// <summary>Splits a stored description into the consumer's reason (null when none was given) and description.</summary>
    public static (string? Reason, string? Description) Decode(string? stored)
    {
        if (stored is not { Length: > 0 } || stored[0] != Separator)
        {
            return (null, stored);
        }

        var end = stored.IndexOf(Separator, 1);
        if (end < 0)
        {
            return (stored[1..], null);
        }

        var description = stored[(end + 1)..];
        return (stored[1..end], description.Length == 0 ? null : description);
    }

    private static string? Clean(string? text, int max)
    {
        if (string.IsNullOrEmpty(text) || max <= 0)
        {
            return null;
        }

        if (text.Contains(Separator))
        {
            text = text.Replace(Separator, ' ');
        }

        return text.Length > max ? text[..max] : text;
    }
}
