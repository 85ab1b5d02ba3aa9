namespace OrleansQueue.Options;

/// <summary>
/// Options of the dead-letter grain, <see cref="OrleansQueueOptions.DeadLetters"/> (configuration section
/// <c>OrleansQueue:DeadLetters</c>).
/// </summary>
public sealed class DeadLetterOptions
{
    /// <summary>
    /// Entries per dead-letter segment record. Adding entries rewrites the newest segment and deleting one rewrites
    /// its segment, so this bounds what one write carries besides the change. Default 64; 1 to 10,000.
    /// </summary>
    public int SegmentMaxEntries { get; set; } = 64;

    /// <summary>
    /// Largest estimated serialized size of one dead-letter segment record, in bytes (bodies counted as base64); a
    /// segment always takes one entry, however large. Default 600 KiB; 16 KiB to 900 KiB (one Azure Table entity).
    /// </summary>
    public int SegmentMaxBytes { get; set; } = 600 * 1024;

    /// <summary>
    /// Most segments one browse, purge or redrive call reads. A call that reaches it returns where to go on, and
    /// <c>DeadLetterClient</c> goes on until every segment is read, so a filtered purge or redrive reaches every
    /// match however many segments come before it, with bounded work per call. Default 256; 1 to 10,000.
    /// </summary>
    public int MaxSegmentsPerCall { get; set; } = 256;
}
