using Microsoft.Extensions.DependencyInjection;

namespace OrleansQueue;

/// <summary>
/// Tells the queue handles of an Orleans client when one of its gateway connections closed. Orleans keeps the calls
/// that were in flight on it waiting for their response timeout (30 s by default) although no response can come;
/// the handles stop waiting at once and fail over: sends are retried (the message ids make that safe), a receive is
/// made again (the one that was cut off reached no grain, or its locks simply run out).
/// </summary>
internal sealed class QueueConnectionMonitor
{
    private CancellationTokenSource _lost = new();
    private int _disconnected;
    private long _recoveredAt;

    /// <summary>
    /// How long after a gateway connection opened again (none was open before) calls get no more than their
    /// patience to answer: a call made on a connection to a silo that has just started may never be answered
    /// (seen on Orleans 10.4 in two of five restarts), and waiting out the 30 s response timeout is what this avoids.
    /// </summary>
    internal static readonly TimeSpan RecoveryPeriod = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Cancelled when a gateway connection closes or opens (a call made in between may sit on a connection that never
    /// answers); a new token is handed out after that.
    /// </summary>
    public CancellationToken Lost => Volatile.Read(ref _lost).Token;

    /// <summary>Whether the last change was a lost connection (calls may fail until one opens again).</summary>
    public bool Disconnected => Volatile.Read(ref _disconnected) != 0;

    /// <summary>
    /// Orleans reports each connection that opens (the count goes up) and each that closes, including failed attempts
    /// to connect (Orleans 10.4 counts those down too, so the count itself can drift below zero): a decrease is a lost
    /// connection, an increase a recovered one. Either ends the calls in flight, which then fail over.
    /// </summary>
    public void OnGatewayCountChanged(object? sender, GatewayCountChangedEventArgs e)
    {
        var recovered = e.NumberOfConnectedGateways > e.PreviousNumberOfConnectedGateways;
        if (recovered)
        {
            Volatile.Write(ref _recoveredAt, Environment.TickCount64);
        }

        Volatile.Write(ref _disconnected, recovered ? 0 : 1);
        Interlocked.Exchange(ref _lost, new CancellationTokenSource()).Cancel();
    }

    /// <summary>
    /// A token for one call: cancelled when a gateway connection closes or opens again, and, while the connection has
    /// just recovered, once <paramref name="patience"/> passed without an answer. Dispose it after the call.
    /// </summary>
    public CancellationTokenSource ForCall(TimeSpan patience)
    {
        var call = CancellationTokenSource.CreateLinkedTokenSource(Lost);
        var recoveredAt = Volatile.Read(ref _recoveredAt);
        if (recoveredAt != 0 && Environment.TickCount64 - recoveredAt < RecoveryPeriod.TotalMilliseconds)
        {
            call.CancelAfter(patience);
        }

        return call;
    }

    /// <summary>The monitor of the client behind <paramref name="grainFactory"/>, when it was added with AddOrleansQueueClient.</summary>
    public static QueueConnectionMonitor? Of(IGrainFactory grainFactory) =>
        (grainFactory as IClusterClient)?.ServiceProvider.GetService<QueueConnectionMonitor>();
}
