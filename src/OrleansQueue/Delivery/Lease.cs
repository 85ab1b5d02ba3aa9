using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>One locked message handed to a receiver or a push consumer.</summary>
internal readonly record struct Lease(StoredMessage Message, int DeliveryCount, Guid Token, DateTimeOffset LockedUntil);
