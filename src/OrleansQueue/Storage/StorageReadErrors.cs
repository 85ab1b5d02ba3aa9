using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansQueue.Storage;

/// <summary>
/// Turns a storage read that failed because the record was written with another encoding (Binary against Json, see
/// <c>QueueStorageEncoding</c>) into a <see cref="QueueException"/> that says so and names the setting to fix.
/// Other failures are left alone.
/// </summary>
/// <remarks>
/// What the Orleans 10.4 Azure providers throw for such a record (reproduced on Azurite, see StorageEncodingTests):
/// Azure Table wraps the serializer's exception in an <see cref="AggregateException"/> ("Unable to convert from storage
/// format ..."), Azure Blob throws it as it is. The serializer's exception is, for a JSON record read as Binary, Orleans'
/// <see cref="UnknownReferencedTypeException"/> (the record's first byte, <c>{</c>, is no field header), and for a Binary
/// record read as JSON, Newtonsoft.Json's <c>JsonReaderException</c> (the bytes are no JSON at all). Errors that other
/// problems cause within one encoding (a JSON record of another shape, a removed type) are not matched.
/// </remarks>
internal static class StorageReadErrors
{
    // Newtonsoft.Json's, thrown through Orleans' JsonGrainStorageSerializer; matched by name so that this library does
    // not take a dependency on Newtonsoft.Json of its own.
    private const string JsonReaderExceptionName = "Newtonsoft.Json.JsonReaderException";
    private const int MaxDetailLength = 200;

    /// <summary>Reads <paramref name="stateName"/>, turning an encoding mismatch into a <see cref="QueueException"/>.</summary>
    public static async Task ReadStateAsync<T>(IGrainStorage storage, string storageName, string stateName, GrainId grainId, IGrainState<T> state)
    {
        try
        {
            await storage.ReadStateAsync(stateName, grainId, state);
        }
        catch (Exception exception) when (IsEncodingMismatch(exception))
        {
            throw EncodingMismatch(storageName, stateName, exception);
        }
    }

    /// <summary>Whether <paramref name="exception"/> says a record was written with another encoding than the reader's.</summary>
    public static bool IsEncodingMismatch(Exception exception) => Cause(exception) is not null;

    /// <summary>
    /// The <see cref="QueueErrorCode.StorageEncodingMismatch"/> exception for an encoding mismatch, or <paramref name="exception"/>
    /// itself when it is not one.
    /// </summary>
    public static Exception Translate(Exception exception, string storageName, string stateName) =>
        IsEncodingMismatch(exception) ? EncodingMismatch(storageName, stateName, exception) : exception;

    private static QueueException EncodingMismatch(string storageName, string stateName, Exception exception)
    {
        var cause = Cause(exception)!;
        var detail = cause.Message.Length > MaxDetailLength ? cause.Message[..MaxDetailLength] + "..." : cause.Message;
        return new QueueException(QueueErrorCode.StorageEncodingMismatch,
            $"The records of storage provider '{storageName}' were written with another encoding than the one it is " +
            $"registered with: record '{stateName}' could not be read ({cause.GetType().Name}: {detail}). Register the " +
            "provider with the encoding the records were written in: the encoding parameter of " +
            "AddOrleansQueueAzureTableStorage / AddOrleansQueueAzureBlobStorage (QueueStorageEncoding.Binary or Json), " +
            "or the silo host's Storage:Serializer setting (Binary or Json). Retrying does not help.");
    }

    /// <summary>The serializer's exception in <paramref name="exception"/> or its inner exceptions, when it is an encoding mismatch.</summary>
    private static Exception? Cause(Exception exception)
    {
        var pending = new Stack<Exception>([exception]);
        for (var seen = 0; pending.Count > 0 && seen < 16; seen++)
        {
            var current = pending.Pop();
            if (current is UnknownReferencedTypeException || current.GetType().FullName == JsonReaderExceptionName)
            {
                return current;
            }

            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (current.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }

        return null;
    }
}
