using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>The markdown table, the JSON file, and the check of the issue's targets.</summary>
public static class Report
{
    public const string Reference = "OrleansQueue (Azure Table on Azurite)";

    public static string Markdown(IReadOnlyList<BenchResult> results, string machine)
    {
        var text = new StringBuilder();
        text.AppendLine(machine).AppendLine();
        text.AppendLine("| system | workload | messages | delivered | sent/s | consumed/s | p50 ms | p99 ms | p99.9 ms | confirm p50 / p99 ms | peak MB | CPU µs/msg server · client | OrleansQueue ÷ this | note |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.System} | {r.Workload} | {r.Messages:N0} | {r.Delivered:N0} | {N(r.SentPerSecond)} | {N(r.ConsumedPerSecond)} | {F(r.P50Ms)} | {F(r.P99Ms)} | {F(r.P999Ms)} | {(r.ConfirmP99Ms is null ? "" : $"{F(r.ConfirmP50Ms)} / {F(r.ConfirmP99Ms)}")} | {N(r.PeakMemoryMb)} | {Cpu(r)} | {Ratio(results, r)} | {r.Note} |");
        }

        return text.ToString();
    }

    public static string Json(IReadOnlyList<BenchResult> results, string machine) =>
        JsonSerializer.Serialize(new { machine, utc = DateTime.UtcNow, results }, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>The issue's targets, each with the two numbers it compares; missing rows are reported as not measured.</summary>
    public static IEnumerable<(string Target, bool? Met, string Detail)> Targets(IReadOnlyList<BenchResult> results)
    {
        BenchResult? Row(string system, string workloadPrefix) =>
            results.FirstOrDefault(r => r.System == system && r.Workload.StartsWith(workloadPrefix, StringComparison.Ordinal));

        var w1 = Row(Reference, "W1");
        var quorum = Row("RabbitMQ quorum queue", "W1");
        var streams = Row(StreamsTarget.SystemName, "W1");
        yield return Compare("W1 consumed/s ≥ 1.5 × RabbitMQ quorum", w1?.ConsumedPerSecond, quorum?.ConsumedPerSecond, (a, b) => a >= 1.5 * b, "x");
        yield return Compare("W1 consumed/s ≥ 50 × Orleans streams", w1?.ConsumedPerSecond, streams?.ConsumedPerSecond, (a, b) => a >= 50 * b, "x");
        var w5 = Row(Reference, "W5");
        var (w5Name, w5Met, w5Detail) = Compare("W5 consumed/s (beside 1,000 held stragglers) ≥ 0.9 × W1, same run", w5?.ConsumedPerSecond, w1?.ConsumedPerSecond,
            (a, b) => a >= 0.9 * b, "x");
        var w5Others = results
            .Where(r => r.System != Reference && r.Workload == Workloads.W5Workload)
            .Select(r => (r.System, W5: r.ConsumedPerSecond, W1: Row(r.System, "W1")?.ConsumedPerSecond))
            .Where(r => r.W5 is not null && r.W1 is > 0)
            .Select(r => $"{r.System} {r.W5:N0} vs {r.W1:N0} ({r.W5 / r.W1:N2}×)")
            .ToList();
        yield return (w5Name, w5Met, w5Detail + (w5Others.Count > 0 ? $"; W5 ÷ W1 elsewhere: {string.Join(", ", w5Others)}" : ""));
        var w3 = Row(Reference, "W3 paced 1,000");
        var w3Quorum = Row("RabbitMQ quorum queue", "W3 paced 1,000");
        var (name, met, detail) = Compare("W3 at 1,000 msg/s: p99 ≤ RabbitMQ quorum p99", w3?.P99Ms, w3Quorum?.P99Ms, (a, b) => a <= b, "ms");
        var floor = Row(AzuriteFloor.SystemName, "W3 paced 1,000");
        var roundTrip = Row(OrleansFloor.RoundTripSystemName, "W3 paced 1,000");
        var orleansFloor = Row(OrleansFloor.SystemName, "W3 paced 1,000");
        var bound = Row(LowerBound.SystemName, "W3 paced 1,000");
        var estimate = Row(LowerBound.EstimateSystemName, "W3 paced 1,000");
        var model = Row(LowerBound.ModelSystemName, "W3 paced 1,000");
        var reach = (bound?.P99Ms, w3Quorum?.P99Ms) is ({ } lb, { } q)
            ? $"; the lower bound for any durable confirm here (an Orleans round trip plus one Azurite write, however paired) has p99 {lb:N1} ms"
                + (lb > q ? ": out of reach in this run" : ", not above quorum's")
            : "";
        yield return (name, met, detail + reach
            + (estimate?.P99Ms is { } e ? $"; the same with the two independent: p99 {e:N1} ms" : "")
            + (model?.P99Ms is { } m ? $"; with one write in flight, as a queue writes: p99 {m:N1} ms" : "")
            + (floor?.P99Ms is { } f ? $"; one Azurite table write alone: p99 {f:N1} ms" : "")
            + (roundTrip?.P99Ms is { } t ? $"; an Orleans call alone: p99 {t:N1} ms" : "")
            + (orleansFloor?.P99Ms is { } o ? $"; an Orleans call with one table write: p99 {o:N1} ms" : ""));
        var empty = results.FirstOrDefault(r => r.System == Reference && r.Workload == Workloads.W4EmptyWorkload);
        var beside = results.FirstOrDefault(r => r.System == Reference && r.Workload == Workloads.W4BesideWorkload);
        var backlog = results.FirstOrDefault(r => r.System == Reference && r.Workload.StartsWith("W4 enqueue, ", StringComparison.Ordinal)
            && r.Workload != Workloads.W4EmptyWorkload && r.Workload != Workloads.W4BesideWorkload);
        var w4 = Compare("W4 enqueue/s with the backlog ≥ 0.9 × empty", backlog?.SentPerSecond, empty?.SentPerSecond, (a, b) => a >= 0.9 * b, "x");
        var floors = results.Where(r => r.System == AzuriteFloor.SystemName && r.Workload.StartsWith(AzuriteFloor.W4Workload, StringComparison.Ordinal)).ToList();
        var storageAlone = floors is [{ SentPerSecond: { } before }, { SentPerSecond: { } after }] && before > 0
            ? $"; Azurite alone: {after:N0} vs {before:N0} writes/s ({after / before:N2}×)"
            : "";
        var sameStorage = (backlog?.SentPerSecond, beside?.SentPerSecond) is ({ } withBacklog, { } besideIt) && besideIt > 0
            ? $"; on the same storage, an empty queue beside the backlog: {withBacklog:N0} vs {besideIt:N0} ({withBacklog / besideIt:N2}×)"
            : "";
        yield return (w4.Item1, w4.Item2, w4.Item3 + storageAlone + sameStorage);
        var w6 = results.FirstOrDefault(r => r.System == Reference && r.Workload == Workloads.W6Workload);
        yield return Compare("W6 dead-letter moves/s ≥ 0.25 × W1 consumed/s", w6?.ConsumedPerSecond, w1?.ConsumedPerSecond, (a, b) => a >= 0.25 * b, "x");
        yield return backlog?.PeakMemoryMb is { } mb
            ? ("W4 silo peak memory with the backlog < 400 MB", mb < 400, $"{mb:N0} MB")
            : ("W4 silo peak memory with the backlog < 400 MB", null, "not measured");
    }

    private static (string, bool?, string) Compare(string target, double? ours, double? theirs, Func<double, double, bool> met, string unit) =>
        ours is { } a && theirs is { } b && b > 0
            ? (target, met(a, b), unit == "ms" ? $"{a:N1} ms vs {b:N1} ms" : $"{a:N0} vs {b:N0} ({a / b:N2}×)")
            : (target, null, "not measured");

    /// <summary>OrleansQueue on Azure Table divided by this row, on the workload's main number (higher is better for OrleansQueue).</summary>
    private static string Ratio(IReadOnlyList<BenchResult> results, BenchResult row)
    {
        var reference = results.FirstOrDefault(r => r.System == Reference && r.Workload == row.Workload);
        if (reference is null || ReferenceEquals(reference, row) || LowerBound.IsComputed(row.System))
        {
            return "";
        }

        if (row.Workload.StartsWith("W3", StringComparison.Ordinal))
        {
            return row.P99Ms is { } theirs && reference.P99Ms is { } ours && ours > 0 ? $"{theirs / ours:N2}× (p99)" : "";
        }

        var (a, b) = row.Workload.StartsWith("W4", StringComparison.Ordinal)
            ? (reference.SentPerSecond, row.SentPerSecond)
            : (reference.ConsumedPerSecond, row.ConsumedPerSecond);
        return a is { } x && b is { } y && y > 0 ? $"{x / y:N2}×" : "";
    }

    private static string Cpu(BenchResult r) => r.ClientCpuUs is { } client ? $"{N(r.ServerCpuUs)} · {N(client)}" : "";

    private static string N(double? value) => value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "";

    private static string F(double? value) => value is { } v ? v.ToString(v < 10 ? "N2" : "N0", CultureInfo.InvariantCulture) : "";
}
