namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>
/// A bounded record of parked in-flight messages, <c>oq-inflight-{n}</c>. Only entries below the cursor's
/// <see cref="QueueMetaState.AckedBelow"/> count: a page written before a cursor write that never happened may hold
/// copies of messages that are still in the window, and those are ignored.
/// </summary>
[GenerateSerializer, Alias("oq.InFlightPage")]
internal sealed class InFlightPageState
{
    [Id(0)] public List<ParkedMessage> Entries { get; set; } = [];
}
