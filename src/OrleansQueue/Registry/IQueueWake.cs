namespace OrleansQueue.Registry;

/// <summary>What the silos call on queue grains the registry lists with push subscribers.</summary>
[Alias("oq.IQueueWake")]
internal interface IQueueWake : IGrainWithStringKey
{
    /// <summary>Activates the queue (on whichever silo it lands) so that its pushes resume; nothing when it is active.</summary>
    [Alias("Wake")]
    Task Wake();
}
