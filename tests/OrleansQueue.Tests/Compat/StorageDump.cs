using System.Text;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace OrleansQueue.Tests.Compat;

/// <summary>
/// Everything an Azure storage account (Azurite) holds in tables and blobs, byte for byte: every table with every
/// entity and every property with its EDM type, every container with every blob. Server-set values (an entity's
/// Timestamp and ETag, a blob's ETag and dates) are left out: storage sets them again on import.
/// </summary>
public sealed record StorageDump(List<DumpedTable> Tables, List<DumpedContainer> Containers)
{
    public static async Task<StorageDump> ReadAsync(string connectionString)
    {
        var tables = new List<DumpedTable>();
        var tableService = new TableServiceClient(connectionString);
        await foreach (var table in tableService.QueryAsync())
        {
            var entities = new List<DumpedEntity>();
            await foreach (var entity in tableService.GetTableClient(table.Name).QueryAsync<TableEntity>())
            {
                var properties = new SortedDictionary<string, DumpedValue>(StringComparer.Ordinal);
                foreach (var (name, value) in entity)
                {
                    if (name is not ("PartitionKey" or "RowKey" or "Timestamp" or "odata.etag") && value is not null)
                    {
                        properties.Add(name, DumpedValue.Of(value));
                    }
                }

                entities.Add(new DumpedEntity(entity.PartitionKey, entity.RowKey, properties));
            }

            tables.Add(new DumpedTable(table.Name, [.. entities.OrderBy(e => e.PartitionKey, StringComparer.Ordinal).ThenBy(e => e.RowKey, StringComparer.Ordinal)]));
        }

        var containers = new List<DumpedContainer>();
        var blobService = new BlobServiceClient(connectionString);
        await foreach (var container in blobService.GetBlobContainersAsync())
        {
            var client = blobService.GetBlobContainerClient(container.Name);
            var blobs = new List<DumpedBlob>();
            await foreach (var item in client.GetBlobsAsync(new GetBlobsOptions { Traits = BlobTraits.Metadata }))
            {
                var content = await client.GetBlobClient(item.Name).DownloadContentAsync();
                blobs.Add(DumpedBlob.Of(item.Name, item.Properties.ContentType, item.Metadata, content.Value.Content.ToArray()));
            }

            containers.Add(new DumpedContainer(container.Name, [.. blobs.OrderBy(b => b.Name, StringComparer.Ordinal)]));
        }

        return new StorageDump(
            [.. tables.OrderBy(t => t.Name, StringComparer.Ordinal)],
            [.. containers.OrderBy(c => c.Name, StringComparer.Ordinal)]);
    }

    /// <summary>Recreates every table, entity, container and blob in an empty account.</summary>
    public async Task WriteAsync(string connectionString)
    {
        var tableService = new TableServiceClient(connectionString);
        foreach (var table in Tables)
        {
            await tableService.CreateTableIfNotExistsAsync(table.Name);
            var client = tableService.GetTableClient(table.Name);
            foreach (var dumped in table.Entities)
            {
                var entity = new TableEntity(dumped.PartitionKey, dumped.RowKey);
                foreach (var (name, value) in dumped.Properties)
                {
                    entity[name] = value.ToObject();
                }

                await client.AddEntityAsync(entity);
            }
        }

        var blobService = new BlobServiceClient(connectionString);
        foreach (var container in Containers)
        {
            var client = blobService.GetBlobContainerClient(container.Name);
            await client.CreateIfNotExistsAsync();
            foreach (var blob in container.Blobs)
            {
                await client.GetBlobClient(blob.Name).UploadAsync(BinaryData.FromBytes(blob.Bytes()), new BlobUploadOptions
                {
                    HttpHeaders = new BlobHttpHeaders { ContentType = blob.ContentType },
                    Metadata = blob.Metadata,
                });
            }
        }
    }
}

public sealed record DumpedTable(string Name, List<DumpedEntity> Entities);

public sealed record DumpedEntity(string PartitionKey, string RowKey, SortedDictionary<string, DumpedValue> Properties);

/// <summary>A property value with its EDM type; binary values in base64, others in invariant text.</summary>
public sealed record DumpedValue(string Type, string Value)
{
    public static DumpedValue Of(object value) => value switch
    {
        string s => new("Edm.String", s),
        byte[] b => new("Edm.Binary", Convert.ToBase64String(b)),
        BinaryData b => new("Edm.Binary", Convert.ToBase64String(b.ToArray())),
        long l => new("Edm.Int64", l.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        int i => new("Edm.Int32", i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        bool b => new("Edm.Boolean", b ? "true" : "false"),
        double d => new("Edm.Double", d.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
        Guid g => new("Edm.Guid", g.ToString("D")),
        DateTimeOffset t => new("Edm.DateTime", t.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture)),
        DateTime t => new("Edm.DateTime", t.ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture)),
        _ => throw new NotSupportedException($"A table property of type {value.GetType()} cannot be dumped."),
    };

    public object ToObject() => Type switch
    {
        "Edm.String" => Value,
        "Edm.Binary" => Convert.FromBase64String(Value),
        "Edm.Int64" => long.Parse(Value, System.Globalization.CultureInfo.InvariantCulture),
        "Edm.Int32" => int.Parse(Value, System.Globalization.CultureInfo.InvariantCulture),
        "Edm.Boolean" => Value == "true",
        "Edm.Double" => double.Parse(Value, System.Globalization.CultureInfo.InvariantCulture),
        "Edm.Guid" => Guid.Parse(Value),
        "Edm.DateTime" => DateTimeOffset.Parse(Value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal),
        _ => throw new NotSupportedException($"EDM type {Type} is not supported."),
    };
}

/// <summary>A blob's bytes: as text when they are UTF-8 that round-trips exactly (readable in review), else base64.</summary>
public sealed record DumpedBlob(string Name, string? ContentType, IDictionary<string, string> Metadata, string Encoding, string Content)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static DumpedBlob Of(string name, string? contentType, IDictionary<string, string>? metadata, byte[] bytes)
    {
        var sorted = new SortedDictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        try
        {
            var text = StrictUtf8.GetString(bytes);
            if (StrictUtf8.GetBytes(text).AsSpan().SequenceEqual(bytes) && !text.Contains('\0'))
            {
                return new DumpedBlob(name, contentType, sorted, "utf8", text);
            }
        }
        catch (DecoderFallbackException)
        {
        }

        return new DumpedBlob(name, contentType, sorted, "base64", Convert.ToBase64String(bytes));
    }

    public byte[] Bytes() => Encoding == "utf8" ? StrictUtf8.GetBytes(Content) : Convert.FromBase64String(Content);
}

public sealed record DumpedContainer(string Name, List<DumpedBlob> Blobs);
