using System.Net;
using System.Net.Sockets;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>Free ports and readiness checks on 127.0.0.1, for the processes the tests start.</summary>
public static class Loopback
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<bool> CanConnectAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
