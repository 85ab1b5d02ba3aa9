using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Dashboard;
using OrleansQueue.Hosting;
using OrleansQueue.Options;
using OrleansQueue.PostgreSql;
using OrleansQueue.SiloHost;

// Socket completions (Orleans connections, the storage client's HTTP requests) run on the socket engine's thread
// instead of each first hopping to the thread pool. On the 2-core benchmark machine W1 moved 6-11% more messages a
// second in four paired runs; W3's latency did not change beyond its noise. Nothing in the silo blocks on such a
// completion. DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 in the environment keeps .NET's default. It is set here,
// before the first socket is made, which is when .NET reads it.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions, "1");
}

// Configuration: appsettings.json, then environment variables (Storage__Provider=AzureBlob),
// then the command line (--Storage:Provider=AzureBlob). Ctrl-C and SIGTERM stop the silo cleanly.
// With Dashboard:Enabled the silo runs in an ASP.NET Core host that serves the Orleans dashboard; otherwise no HTTP at all.
var generic = Host.CreateApplicationBuilder(args);
var dashboard = generic.Configuration.GetSection("Dashboard").Get<DashboardSettings>() ?? new DashboardSettings();
WebApplicationBuilder? web = null;
if (dashboard.Enabled)
{
    web = WebApplication.CreateBuilder(args);
    web.WebHost.UseUrls(dashboard.Urls);
    generic.Configuration.Dispose();
}

IHostApplicationBuilder builder = web is null ? generic : web;
var cluster = builder.Configuration.GetSection("Cluster").Get<ClusterSettings>() ?? new ClusterSettings();
var storage = builder.Configuration.GetSection("Storage").Get<StorageSettings>() ?? new StorageSettings();
var queueSection = builder.Configuration.GetSection(OrleansQueueOptions.SectionName);
var storageName = queueSection[nameof(OrleansQueueOptions.StorageName)] ?? OrleansQueueOptions.DefaultStorageName;
var tls = builder.Configuration.GetSection("Tls").Get<TlsSettings>() ?? new TlsSettings();
// Storage:Serializer chooses the queue storage's encoding (QueueStorageEncoding): Binary (the default) or Json.
var encodingName = Enum.GetNames<QueueStorageEncoding>().FirstOrDefault(n => n.Equals(storage.Serializer, StringComparison.OrdinalIgnoreCase))
    ?? throw new InvalidOperationException($"Storage:Serializer is '{storage.Serializer}'; use Binary or Json.");
var encoding = Enum.Parse<QueueStorageEncoding>(encodingName);

// 'schema': creates or updates the PostgreSQL schema (idempotent) and exits; deployments run it before the silos.
// Otherwise, on PostgreSQL, the silo checks the server, the credentials and the schema before it starts, so each of
// those mistakes stops it with one line that names it.
string? postgres;
try
{
    postgres = storage.Provider.Equals("PostgreSql", StringComparison.OrdinalIgnoreCase) || cluster.Clustering.Equals("PostgreSql", StringComparison.OrdinalIgnoreCase)
        ? storage.PostgreSqlConnectionString()
        : null;
    if (args.Length > 0 && args[0] == "schema")
    {
        if (postgres is null)
        {
            Console.Error.WriteLine("'schema' sets up PostgreSQL: give --Storage:Provider=PostgreSql and --Storage:ConnectionString=...");
            return 2;
        }

        await PostgreSqlSchema.ApplyAsync(postgres);
        Console.WriteLine("The OrleansQueue schema is in place.");
        return 0;
    }

    if (postgres is not null)
    {
        await PostgreSqlSchema.CheckAsync(postgres);
    }
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 1;
}

var telemetry = builder.Configuration.GetSection("Telemetry").Get<TelemetrySettings>() ?? new TelemetrySettings();
var tracing = builder.Services.AddTelemetry(telemetry, cluster.ServiceId);

builder.UseOrleans(silo =>
{
    silo.Configure<ClusterOptions>(o =>
    {
        o.ClusterId = cluster.ClusterId;
        o.ServiceId = cluster.ServiceId;
    });

    // Orleans:ClusterMembership binds Orleans' ClusterMembershipOptions (failure detection), which Orleans does not bind
    // from configuration itself: e.g. --Orleans:ClusterMembership:ProbeTimeout=00:00:02 --Orleans:ClusterMembership:NumMissedProbesLimit=2.
    // Absent, Orleans' defaults apply.
    silo.Services.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection("Orleans:ClusterMembership"));

    switch (cluster.Clustering.ToLowerInvariant())
    {
        case "localhost":
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort,
                new IPEndPoint(IPAddress.Loopback, cluster.PrimarySiloPort ?? cluster.SiloPort), cluster.ServiceId, cluster.ClusterId);
            break;
        case "azuretable":
            silo.UseAzureStorageClustering(o => o.TableServiceClient = storage.Tables());
            silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
            break;
        case "postgresql":
            silo.UseOrleansQueuePostgreSqlClustering(postgres!);
            silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
            break;
        default:
            throw new InvalidOperationException($"Cluster:Clustering is '{cluster.Clustering}'; use Localhost, AzureTable or PostgreSql.");
    }

    switch (storage.Provider.ToLowerInvariant())
    {
        case "azuretable":
            silo.AddOrleansQueueAzureTableStorage(storageName, o =>
            {
                o.TableServiceClient = storage.Tables();
                o.TableName = storage.TableName;
            }, encoding);
            UseAzureTableReminders(silo, storage);
            break;
        case "azureblob":
            silo.AddOrleansQueueAzureBlobStorage(storageName, o =>
            {
                o.BlobServiceClient = storage.Blobs();
                o.ContainerName = storage.ContainerName;
            }, encoding);
            UseAzureTableReminders(silo, storage);
            break;
        case "postgresql":
            silo.AddOrleansQueuePostgreSqlStorage(storageName, o =>
            {
                o.ConnectionString = postgres!;
                o.Encoding = encoding;
            });
            silo.UseOrleansQueuePostgreSqlReminders(postgres!);
            break;
        case "memory":
            silo.AddMemoryGrainStorage(storageName);
            silo.UseInMemoryReminderService();
            break;
        default:
            throw new InvalidOperationException($"Storage:Provider is '{storage.Provider}'; use AzureTable, AzureBlob, PostgreSql or Memory.");
    }

    silo.AddOrleansQueue(queueSection);
    if (tracing)
    {
        silo.AddActivityPropagation(); // grain calls start activities, linked to the caller's
    }

    if (dashboard.Enabled)
    {
        silo.AddDashboard();
    }

    if (tls.Enabled)
    {
        void Configure(TlsOptions o)
        {
            o.ClientCertificateMode = tls.RequireClientCertificate ? RemoteCertificateMode.RequireCertificate : RemoteCertificateMode.AllowCertificate;
            o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            o.RemoteCertificateValidation = (certificate, _, errors) =>
                errors == SslPolicyErrors.None || tls.TrustedThumbprints.Contains(certificate.Thumbprint, StringComparer.OrdinalIgnoreCase);
        }

        if (!string.IsNullOrEmpty(tls.CertificatePath))
        {
            silo.UseTls(X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath, tls.CertificatePassword), Configure);
        }
        else if (!string.IsNullOrEmpty(tls.StoreSubject))
        {
            silo.UseTls(Enum.Parse<StoreName>(tls.StoreName, ignoreCase: true), tls.StoreSubject, allowInvalid: false,
                Enum.Parse<StoreLocation>(tls.StoreLocation, ignoreCase: true), Configure);
        }
        else
        {
            throw new InvalidOperationException("Tls:Enabled is true but neither Tls:CertificatePath nor Tls:StoreSubject is set.");
        }
    }
});

builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
if (web is not null)
{
    await using var app = web.Build();
    app.MapOrleansDashboard();
    await app.RunAsync();
}
else
{
    using var host = generic.Build();
    await host.RunAsync();
}

return 0;

// Reminders wake queues with pending work after a silo crash; they live in the same storage account.
static void UseAzureTableReminders(ISiloBuilder silo, StorageSettings storage) =>
    silo.UseAzureTableReminderService(o =>
    {
        o.TableServiceClient = storage.Tables();
        o.TableName = storage.TableName + "Reminders";
    });
