using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Azurite;

/// <summary>The silo host with TLS required: only a client with a trusted certificate gets in.</summary>
[Trait("Category", "Security")]
public sealed class TlsTests : AzuriteTest
{
    private readonly string _dir = Directory.CreateTempSubdirectory("orleansqueue-tls-").FullName;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false)); // server and client auth
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx, "pw"), "pw");
    }

    private static async Task<IHost> ConnectAsync(int gatewayPort, X509Certificate2? certificate)
    {
        var host = SiloHostClient.Build([gatewayPort], "oq-tls", client =>
        {
            if (certificate is not null)
            {
                client.UseTls(certificate, o => o.AllowAnyRemoteCertificate());
            }
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await host.StartAsync(timeout.Token);
            await host.Services.GetRequiredService<IClusterClient>().GetQueue("tls").GetStatsAsync().WaitAsync(timeout.Token);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    [Fact]
    public async Task AClientWithoutATrustedCertificate_IsRefused_AndOneWithItWorks()
    {
        var silo = SelfSigned("orleans-queue-silo");
        var stranger = SelfSigned("stranger");
        var path = Path.Combine(_dir, "silo.pfx");
        await File.WriteAllBytesAsync(path, silo.Export(X509ContentType.Pfx, "secret"));
        var gatewayPort = Loopback.FreePort();
        await using var host = await SiloHostProcess.StartAsync(Loopback.FreePort(), gatewayPort,
            $"--Storage:ConnectionString={Azurite.ConnectionString}", "--Cluster:ServiceId=oq-tls",
            "--Tls:Enabled=true", $"--Tls:CertificatePath={path}", "--Tls:CertificatePassword=secret",
            $"--Tls:TrustedThumbprints:0={silo.Thumbprint}");

        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(gatewayPort, certificate: null)); // plain TCP
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(gatewayPort, stranger));        // untrusted certificate

        using var trusted = await ConnectAsync(gatewayPort, silo);
        var queue = trusted.Services.GetRequiredService<IClusterClient>().GetQueue("tls");
        await queue.SendAsync("over TLS");
        Assert.Equal("over TLS", Assert.Single(await queue.ReceiveAsync(1)).Message.BodyAsString());
        await trusted.StopAsync();
    }
}
