namespace OrleansQueue.Storage;

// The names of the records a queue, the dead-letter grain and the registry store: a storage format, never changed.

/// <summary>Names of the storage records of one queue.</summary>
internal static class StateNames
{
    public const string Meta = "oq-meta";

    public const string DeadLetterMeta = "oq-dl-meta";

    /// <summary>The record of a queue registry shard.</summary>
    public const string Registry = "oq-registry";

    /// <summary>
    /// Chunk <paramref name="chunk"/> of segment <paramref name="id"/>: the first chunk is the segment's own record
    /// (<c>oq-seg-{n}</c>, as segments were stored before chunks), later ones <c>oq-seg-{n}-c{k}</c>.
    /// </summary>
    public static string SegmentChunk(long id, int chunk) => chunk == 0 ? $"oq-seg-{id}" : $"oq-seg-{id}-c{chunk}";

    public static string DeadLetterSegment(long id) => $"oq-dl-seg-{id}";

    /// <summary>The index of a queue's schedule (messages sent for later).</summary>
    public const string ScheduleIndex = "oq-sched";

    /// <summary>Chunk <paramref name="chunk"/> of schedule segment <paramref name="id"/>.</summary>
    public static string ScheduleChunk(long id, int chunk) => $"oq-sched-{id}-{chunk}";

    /// <summary>Page <paramref name="id"/> of a queue's parked in-flight messages.</summary>
    public static string InFlightPage(long id) => $"oq-inflight-{id}";
}
