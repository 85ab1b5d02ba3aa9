using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>A message in flight that the window moved past, with its delivery state and the page that stores it.</summary>
internal sealed class ParkedEntry(StoredMessage message, long page, long bytes)
{
    public StoredMessage Message { get; } = message;
    public long Page { get; } = page;
    public long Bytes { get; } = bytes;

    /// <summary>Its delivery state, changed in place by reference (a field, not a property).</summary>
    public DeliveryEntry Entry;
}
