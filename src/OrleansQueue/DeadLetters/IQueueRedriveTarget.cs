// In namespace OrleansQueue.Internal, where it has always been: Orleans may encode the names of serialized types and
// grain interfaces into messages and stored state, so this type keeps its full name wherever its file lives.
namespace OrleansQueue.Internal;

/// <summary>What the dead-letter grain calls on queue grains.</summary>
[Alias("oq.IQueueRedriveTarget")]
internal interface IQueueRedriveTarget : IGrainWithStringKey
{
    /// <summary>Enqueues redriven messages, deduplicated by <paramref name="dedupKeys"/> rather than by message id.</summary>
    [Alias("EnqueueRedriven")]
    Task<long[]> EnqueueRedriven(OutgoingMessage[] messages, string[] dedupKeys);
}
