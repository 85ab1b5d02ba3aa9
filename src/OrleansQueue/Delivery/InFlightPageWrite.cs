using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>
/// An in-flight page to write before the cursor: its parked messages, or null when it is empty and is to be deleted;
/// <paramref name="Version"/> is what <see cref="InFlightPages.Written"/> records once it is stored.
/// </summary>
internal readonly record struct InFlightPageWrite(long Id, long Version, InFlightPageState? State, string? ETag);
