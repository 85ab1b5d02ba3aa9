using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansQueue.Options;

namespace OrleansQueue.Hosting;

/// <summary>The grain storage serializer of each <see cref="QueueStorageEncoding"/>, for storage providers that hold queues.</summary>
public static class QueueStorageSerializer
{
    /// <summary>
    /// The serializer for <paramref name="encoding"/>. Storage providers for queues set it explicitly for both encodings,
    /// so a default serializer registered for the whole silo cannot change how queue records are written.
    /// </summary>
    public static IGrainStorageSerializer Create(QueueStorageEncoding encoding, IServiceProvider services)
    {
        Check(encoding);
        ArgumentNullException.ThrowIfNull(services);
        return encoding == QueueStorageEncoding.Json
            ? new JsonGrainStorageSerializer(services.GetRequiredService<OrleansJsonSerializer>())
            : new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>());
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="encoding"/> is a defined value.</summary>
    public static void Check(QueueStorageEncoding encoding)
    {
        if (!Enum.IsDefined(encoding))
        {
            throw new ArgumentOutOfRangeException(nameof(encoding), encoding, $"use {nameof(QueueStorageEncoding)}.{nameof(QueueStorageEncoding.Binary)} or {nameof(QueueStorageEncoding.Json)}");
        }
    }
}
