namespace OrleansQueue;

/// <summary>
/// Random version 4 GUIDs from the thread's fast generator (<see cref="Random.Shared"/>, seeded from the operating
/// system once per thread) instead of <see cref="Guid.NewGuid"/>, which on Linux reads the kernel's generator with one
/// system call per GUID: at W1 that was about 3% of the silo's CPU (a lock token per message). Unique, not secret:
/// message ids and lock tokens identify, they do not authorize (any client of the cluster may settle or purge a
/// queue's messages anyway).
/// </summary>
internal static class RandomIds
{
    public static Guid NewGuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4: the high nibble of the third group, stored little-endian
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 9562 variant
        return new Guid(bytes);
    }
}
