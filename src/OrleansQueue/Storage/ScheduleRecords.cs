namespace OrleansQueue.Storage;

// What the grain storage provider serializes for a queue's schedule (messages sent for later). A storage format:
// rename nothing, add members only with defaults.

/// <summary>
/// The index of a queue's schedule (<see cref="StateNames.ScheduleIndex"/>): one small entry per schedule segment, so
/// that loading a queue reads this record and no scheduled message.
/// </summary>
[GenerateSerializer, Alias("oq.ScheduleIndexState")]
internal sealed class ScheduleIndexState
{
    /// <summary>The id the next schedule segment gets.</summary>
    [Id(0)] public long NextSegment { get; set; }

    [Id(1)] public List<ScheduleSegmentInfo> Segments { get; set; } = [];

    /// <summary>Messages on their way into the queue, written before they are sent there (see <see cref="ScheduleMove"/>).</summary>
    [Id(2)] public ScheduleMove? Moving { get; set; }
}

/// <summary>
/// A schedule segment: messages due within one time bucket, stored as chunk records
/// (<see cref="StateNames.ScheduleChunk"/>) of at most <c>ScheduleStore.ChunkMaxEntries</c> messages.
/// </summary>
[GenerateSerializer, Alias("oq.ScheduleSegmentInfo")]
internal sealed class ScheduleSegmentInfo
{
    [Id(0)] public long Id { get; set; }

    /// <summary>The time bucket its messages are due in (<c>ScheduleStore.BucketOf</c>).</summary>
    [Id(1)] public long Bucket { get; set; }

    /// <summary>Chunk records confirmed (0 to Chunks - 1); the last takes appends while the segment is open.</summary>
    [Id(2)] public int Chunks { get; set; }

    /// <summary>Slots handed out in the last chunk: a slot at or past it in that chunk was never confirmed and is ignored.</summary>
    [Id(3)] public int LastChunkSlots { get; set; }

    /// <summary>The estimated stored bytes of the last chunk's messages, to start a new chunk before it grows too big.</summary>
    [Id(4)] public long LastChunkBytes { get; set; }

    /// <summary>Messages the segment still holds.</summary>
    [Id(5)] public int Live { get; set; }

    /// <summary>Messages ever appended (the segment takes no more once full).</summary>
    [Id(6)] public int Appended { get; set; }

    /// <summary>No message of the segment is due before this (it may be earlier than the first one left).</summary>
    [Id(7)] public DateTimeOffset MinDue { get; set; }

    /// <summary>The body bytes of the messages it holds.</summary>
    [Id(8)] public long LiveBodyBytes { get; set; }

    /// <summary>When a message was last appended, for rebuilding duplicate detection after a reload.</summary>
    [Id(9)] public DateTimeOffset LastAppendAt { get; set; }

    /// <summary>
    /// Chunk records that may exist (at least <see cref="Chunks"/>): an append names the chunks it starts before it
    /// writes them, so a delete finds them; what they hold counts once <see cref="Chunks"/> takes them in.
    /// </summary>
    [Id(10)] public int NamedChunks { get; set; }

    /// <summary>The estimated stored bytes of the messages ever appended.</summary>
    [Id(11)] public long AppendedBytes { get; set; }

    /// <summary>Takes no more appends (full by bytes).</summary>
    [Id(12)] public bool Closed { get; set; }
}

/// <summary>
/// Scheduled messages that are being sent into the queue: recorded before the send, so that after a crash the queue
/// finds which of them it stored (their duplicate-detection keys, from <see cref="FromSeq"/> on) and removes those
/// from the schedule, and keeps the others scheduled.
/// </summary>
[GenerateSerializer, Alias("oq.ScheduleMove")]
internal sealed class ScheduleMove
{
    [Id(0)] public long[] Numbers { get; set; } = [];

    /// <summary>The queue's next sequence number before the send: none of them is stored before it.</summary>
    [Id(1)] public long FromSeq { get; set; }
}

/// <summary>One chunk record of a schedule segment: its messages, <see cref="StoredMessage.Seq"/> their scheduled numbers.</summary>
[GenerateSerializer, Alias("oq.ScheduleChunkState")]
internal sealed class ScheduleChunkState
{
    [Id(0)] public List<StoredMessage> Entries { get; set; } = [];
}
