namespace OrleansQueue.Tests.Infrastructure;

/// <summary>Reading a measurement's tags in a <see cref="System.Diagnostics.Metrics.MeterListener"/> callback.</summary>
public static class MeterTags
{
    /// <summary>The value of tag <paramref name="key"/> as a string, or null when the measurement has none.</summary>
    public static string? Get(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == key)
            {
                return tag.Value as string;
            }
        }

        return null;
    }
}
