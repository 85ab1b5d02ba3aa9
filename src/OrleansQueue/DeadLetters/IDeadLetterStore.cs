// In namespace OrleansQueue.Internal, where it has always been: Orleans may encode the names of serialized types and
// grain interfaces into messages and stored state, so this type keeps its full name wherever its file lives.
namespace OrleansQueue.Internal;

/// <summary>What queue grains call on the dead-letter grain.</summary>
[Alias("oq.IDeadLetterStore")]
internal interface IDeadLetterStore : IGrainWithIntegerKey
{
    /// <summary>Stores the entry once per <paramref name="moveId"/>; a repeated move returns the first entry's id.</summary>
    [Alias("Add")]
    Task<long> Add(Guid moveId, DeadLetterEntry entry);

    /// <summary>
    /// Stores the entries of many moves in as few segment writes as they fit in, each once per move id (a repeated
    /// move gets its first entry's id); returns the entry ids, in the order of <paramref name="moves"/>.
    /// </summary>
    [Alias("AddBatch")]
    Task<long[]> AddBatch(DeadLetterMove[] moves);
}
