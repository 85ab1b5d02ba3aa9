using OrleansQueue.Storage;

namespace OrleansQueue.DeadLetters;

/// <summary>The dead-letter counts kept in the cursor record (by reason and by source queue); a count that reaches zero is removed.</summary>
internal static class DeadLetterCounts
{
    public static void Apply(DeadLetterMeta meta, StoredDeadLetter entry, int delta)
    {
        Bump(meta.CountByReason, entry.Reason, delta);
        Bump(meta.CountBySourceQueue, entry.SourceQueue, delta);
    }

    private static void Bump<TKey>(Dictionary<TKey, long> counts, TKey key, int delta) where TKey : notnull
    {
        var value = counts.GetValueOrDefault(key) + delta;
        if (value > 0)
        {
            counts[key] = value;
        }
        else
        {
            counts.Remove(key);
        }
    }
}
