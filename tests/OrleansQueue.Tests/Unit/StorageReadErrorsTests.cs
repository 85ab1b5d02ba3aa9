using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json;
using Orleans.Serialization;
using OrleansQueue.Storage;

namespace OrleansQueue.Tests.Unit;

/// <summary>
/// Which read errors are an encoding mismatch, with the exceptions the serializers really throw (the Azure providers
/// around them are covered on Azurite by StorageEncodingTests).
/// </summary>
public sealed class StorageReadErrorsTests
{
    private static readonly Serializer Binary = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    public static TheoryData<string, Exception> Mismatches => new()
    {
        // Azure Blob throws the serializer's exception as it is; Azure Table wraps it.
        { "a JSON record read as Binary", JsonReadAsBinary() },
        { "a JSON record read as Binary, Azure Table", new AggregateException("Unable to convert from storage format GrainStateEntity.Data=System.Byte[]", JsonReadAsBinary()) },
        { "a Binary record read as JSON", BinaryReadAsJson() },
        { "a Binary record read as JSON, Azure Table", new AggregateException("Unable to convert from storage format GrainStateEntity.Data=System.Byte[]", BinaryReadAsJson()) },
    };

    public static TheoryData<string, Exception> Others => new()
    {
        { "a JSON record of another shape", Catch(() => JsonConvert.DeserializeObject<int[]>("{\"a\":1}")) },
        { "storage unreachable", new AggregateException(new TimeoutException("no answer")) },
        { "an ETag conflict", new InvalidOperationException("conflict") },
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public void AnEncodingMismatch_BecomesStorageEncodingMismatch_NamingTheProviderAndTheSetting(string what, Exception exception)
    {
        Assert.True(StorageReadErrors.IsEncodingMismatch(exception), what);
        var error = Assert.IsType<QueueException>(StorageReadErrors.Translate(exception, "queues", "oq-dl-meta"));
        Assert.Equal(QueueErrorCode.StorageEncodingMismatch, error.Code);
        Assert.False(error.IsTransient);
        Assert.StartsWith("The records of storage provider 'queues' were written with another encoding", error.Message, StringComparison.Ordinal);
        Assert.Contains("record 'oq-dl-meta'", error.Message, StringComparison.Ordinal);
        Assert.Contains("QueueStorageEncoding.Binary or Json", error.Message, StringComparison.Ordinal);
        Assert.Contains("Storage:Serializer", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Others))]
    public void OtherErrors_AreLeftAlone(string what, Exception exception)
    {
        Assert.False(StorageReadErrors.IsEncodingMismatch(exception), what);
        Assert.Same(exception, StorageReadErrors.Translate(exception, "queues", "oq-meta"));
    }

    private static Exception JsonReadAsBinary() =>
        Catch(() => Binary.Deserialize<Dictionary<string, long>>(Encoding.UTF8.GetBytes("{\"$id\":\"1\",\"CountByReason\":{}}")));

    private static Exception BinaryReadAsJson() =>
        Catch(() => JsonConvert.DeserializeObject<Dictionary<string, long>>(Encoding.UTF8.GetString(Binary.SerializeToArray(new Dictionary<string, long> { ["work"] = 1 }))));

    private static Exception Catch(Action action)
    {
        try
        {
            action();
        }
        catch (Exception exception)
        {
            return exception;
        }

        throw new InvalidOperationException("no exception");
    }
}
