// In namespace OrleansQueue.Internal, where it has always been: Orleans may encode the names of serialized types and
// grain interfaces into messages and stored state, so this type keeps its full name wherever its file lives.
namespace OrleansQueue.Internal;

/// <summary>One message on its way to the dead-letter grain: the entry, and the id that makes its move idempotent.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeadLetterMove")]
internal sealed record DeadLetterMove(
    [property: Id(0)] Guid MoveId,
    [property: Id(1)] DeadLetterEntry Entry);
