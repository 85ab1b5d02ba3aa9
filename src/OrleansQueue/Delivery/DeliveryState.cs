namespace OrleansQueue.Delivery;

/// <summary>Where a message of the delivery window stands.</summary>
internal enum DeliveryState : byte
{
    /// <summary>Deliverable (now, or once its redelivery delay or move deferral ends).</summary>
    Ready,

    /// <summary>Delivered and locked until its lock ends or it is settled.</summary>
    Locked,

    /// <summary>Completed, purged or moved to the dead-letter grain.</summary>
    Completed,

    /// <summary>Its move to the dead-letter grain is stored and not yet finished.</summary>
    Moving,
}
