namespace OrleansQueue.SiloHost;

/// <summary>The <c>Cluster</c> section: how this silo joins its cluster.</summary>
internal sealed class ClusterSettings
{
    public string ClusterId { get; set; } = "orleans-queue-dev";
    public string ServiceId { get; set; } = "orleans-queue";

    /// <summary>
    /// <c>Localhost</c> (one silo, or a dev cluster on one machine), <c>AzureTable</c> (membership in Azure Table
    /// storage) or <c>PostgreSql</c> (membership in the PostgreSQL database of <c>Storage:ConnectionString</c>).
    /// </summary>
    public string Clustering { get; set; } = "Localhost";

    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;

    /// <summary>For <c>Localhost</c> clustering with several silos: the first silo's port (default: this silo's).</summary>
    public int? PrimarySiloPort { get; set; }

    public string AdvertisedAddress { get; set; } = "127.0.0.1";
}

/// <summary>The <c>Storage</c> section: where queue data and cluster membership live.</summary>
internal sealed class StorageSettings
{
    /// <summary>
    /// <c>AzureTable</c> (default), <c>AzureBlob</c>, <c>PostgreSql</c> (queue data and reminders in PostgreSQL;
    /// <see cref="ConnectionString"/> is then an Npgsql connection string), or <c>Memory</c> (nothing survives a
    /// restart: for experiments only).
    /// </summary>
    public string Provider { get; set; } = "AzureTable";

    /// <summary>
    /// How queue records are encoded (the <c>encoding</c> of <c>AddOrleansQueueAzureTableStorage</c> /
    /// <c>AddOrleansQueueAzureBlobStorage</c>): <c>Binary</c> (the Orleans serializer; the default: smaller records,
    /// cheaper to encode; W1 on Azurite went from 14,600 to 22,500 msgs/s) or <c>Json</c> (the provider's default). Data
    /// written one way is not read the other.
    /// </summary>
    public string Serializer { get; set; } = "Binary";

    /// <summary>
    /// An Azure Storage connection string (the default is Azurite's public development account on 127.0.0.1), or with
    /// <see cref="Provider"/> <c>PostgreSql</c> an Npgsql one (<c>Host=...;Port=...;Database=...;Username=...;Password=...</c>).
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>The PostgreSQL connection string, checked: not the Azure one that appsettings.json gives by default.</summary>
    public string PostgreSqlConnectionString() =>
        string.IsNullOrWhiteSpace(ConnectionString) || ConnectionString.Contains("AccountName=", StringComparison.OrdinalIgnoreCase)
            ? throw new InvalidOperationException("Storage:Provider is PostgreSql, so Storage:ConnectionString must be a PostgreSQL connection string " +
                "(Host=127.0.0.1;Port=55432;Database=orleansqueue;Username=orleansqueue;Password=...; 'bash .ci/postgres.sh url' prints the local one).")
            : ConnectionString;

    /// <summary>
    /// Against real Azure, instead of a connection string: the table service URI (https://ACCOUNT.table.core.windows.net);
    /// the silo authenticates with <c>DefaultAzureCredential</c> (managed identity, workload identity, Azure CLI, ...),
    /// so no account key is needed. Set <see cref="ConnectionString"/> to empty to use it.
    /// </summary>
    public string? TableServiceUri { get; set; }

    /// <summary>With <see cref="TableServiceUri"/>: the blob service URI, for <c>AzureBlob</c> storage.</summary>
    public string? BlobServiceUri { get; set; }

    /// <summary>A table client: from the connection string, or from the URI with a token credential.</summary>
    public Azure.Data.Tables.TableServiceClient Tables() =>
        !string.IsNullOrWhiteSpace(ConnectionString) ? new(ConnectionString)
        : !string.IsNullOrWhiteSpace(TableServiceUri) ? new(new Uri(TableServiceUri), new Azure.Identity.DefaultAzureCredential())
        : throw new InvalidOperationException("Set Storage:ConnectionString (Azurite, or a key) or Storage:TableServiceUri (token credential).");

    /// <summary>A blob client: from the connection string, or from the URI with a token credential.</summary>
    public Azure.Storage.Blobs.BlobServiceClient Blobs() =>
        !string.IsNullOrWhiteSpace(ConnectionString) ? new(ConnectionString)
        : !string.IsNullOrWhiteSpace(BlobServiceUri) ? new(new Uri(BlobServiceUri), new Azure.Identity.DefaultAzureCredential())
        : throw new InvalidOperationException("Set Storage:ConnectionString (Azurite, or a key) or Storage:BlobServiceUri (token credential).");

    public string TableName { get; set; } = "OrleansQueue";
    public string ContainerName { get; set; } = "orleans-queue";
}

/// <summary>The <c>Tls</c> section: TLS between clients and silos (and between silos).</summary>
internal sealed class TlsSettings
{
    public bool Enabled { get; set; }

    /// <summary>A PKCS#12 (.pfx) file with the silo's certificate and private key.</summary>
    public string? CertificatePath { get; set; }

    public string? CertificatePassword { get; set; }

    /// <summary>Or: the subject of a certificate in the machine's store.</summary>
    public string? StoreSubject { get; set; }

    public string StoreName { get; set; } = "My";

    public string StoreLocation { get; set; } = "CurrentUser";

    /// <summary>Refuse clients that present no certificate (mutual TLS). Default true.</summary>
    public bool RequireClientCertificate { get; set; } = true;

    /// <summary>Thumbprints of certificates trusted besides those the machine's chain trusts (self-signed ones).</summary>
    public string[] TrustedThumbprints { get; set; } = [];
}

/// <summary>The <c>Telemetry</c> section: OpenTelemetry export of OrleansQueue's and Orleans' metrics and traces.</summary>
internal sealed class TelemetrySettings
{
    /// <summary><c>None</c> (default), <c>Console</c> (the silo's standard output), or <c>Otlp</c> (a collector).</summary>
    public string Exporter { get; set; } = "None";

    /// <summary>For <c>Otlp</c>: the collector, e.g. <c>http://127.0.0.1:4317</c> (gRPC). Default: the exporter's own (localhost:4317).</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>How often metrics are exported, in milliseconds (1,000 or more).</summary>
    public int MetricsIntervalMs { get; set; } = 10_000;

    /// <summary>Export traces too (OrleansQueue's activities and Orleans' grain calls).</summary>
    public bool Traces { get; set; } = true;
}

/// <summary>The <c>Dashboard</c> section: the Orleans dashboard (Microsoft.Orleans.Dashboard) on its own HTTP endpoint.</summary>
internal sealed class DashboardSettings
{
    public bool Enabled { get; set; }

    /// <summary>Where the dashboard listens; loopback by default (put a reverse proxy with authentication in front of anything else).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:8080";
}
