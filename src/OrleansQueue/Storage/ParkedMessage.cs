namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>
/// A message in flight (locked, waiting out a redelivery delay, or on its way to the dead-letter grain) that the
/// delivery window moved past: a copy of the message with its delivery state, so its segment can be deleted.
/// </summary>
[GenerateSerializer, Alias("oq.ParkedMessage")]
internal sealed class ParkedMessage
{
    [Id(0)] public StoredMessage Message { get; set; } = new();
    [Id(1)] public DeliveryRecord Delivery { get; set; } = new();
}
