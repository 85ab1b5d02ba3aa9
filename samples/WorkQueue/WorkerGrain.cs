using OrleansQueue;

namespace WorkQueue;

/// <summary>A worker: the queue pushes jobs to it; returning completes a job, throwing fails it.</summary>
public interface IWorkerGrain : IQueueConsumer, IGrainWithStringKey;

public sealed class WorkerGrain : Grain, IWorkerGrain
{
    public Task Handle(QueueDelivery delivery)
    {
        var body = delivery.Message.BodyAsString();
        if (body == "poison")
        {
            Console.WriteLine($"{this.GetPrimaryKeyString()}: '{body}' fails (delivery {delivery.Message.DeliveryCount})");
            throw new InvalidOperationException("This job can never succeed.");
        }

        Console.WriteLine($"{this.GetPrimaryKeyString()}: handled '{body}'");
        return Task.CompletedTask;
    }
}
