namespace OrleansQueue.Retention;

/// <summary>A segment below the head, fully completed, kept for duplicate detection until it can be deleted.</summary>
internal sealed record RetainedSegment(long Id, long LastSeq, DateTimeOffset LastEnqueuedAt);
