namespace OrleansQueue.SiloHost;

/// <summary>The <c>Cluster</c> section: how this silo joins its cluster.</summary>
internal sealed class ClusterSettings
{
    public string ClusterId { get; set; } = "orleans-queue-dev";
    public string ServiceId { get; set; } = "orleans-queue";

    /// <summary><c>Localhost</c> (one silo, or a dev cluster on one machine) or <c>AzureTable</c> (membership in Azure Table storage).</summary>
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
    /// <summary><c>AzureTable</c> (default), <c>AzureBlob</c>, or <c>Memory</c> (nothing survives a restart: for experiments only).</summary>
    public string Provider { get; set; } = "AzureTable";

    /// <summary>An Azure Storage connection string; the default is Azurite's public development account on 127.0.0.1.</summary>
    public string ConnectionString { get; set; } = "";

    public string TableName { get; set; } = "OrleansQueue";
    public string ContainerName { get; set; } = "orleans-queue";
}
