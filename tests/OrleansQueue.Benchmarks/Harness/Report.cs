using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>The markdown table, the JSON file, and the check of the issue's targets.</summary>
public static class Report
{
    public const string Reference = "OrleansQueue (Azure Table on Azurite)";

    /// <summary>OrleansQueue at equal durability with RabbitMQ: every confirm fsynced.</summary>
    public const string PostgreSql = "OrleansQueue (PostgreSQL)";

    public const string Quorum = "RabbitMQ quorum queue";

    public static string Markdown(IReadOnlyList<BenchResult> results, string machine)
    {
        var text = new StringBuilder();
        text.AppendLine(machine).AppendLine();
        text.AppendLine("| system | confirm durability | workload | messages | delivered | sent/s | consumed/s | p50 ms | p99 ms | p99.9 ms | confirm p50 / p99 ms | peak MB | CPU µs/msg server · client | OrleansQueue ÷ this | note |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results.Where(r => !IsMatrix(r)))
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.System} | {r.Durability} | {r.Workload} | {r.Messages:N0} | {r.Delivered:N0} | {N(r.SentPerSecond)} | {N(r.ConsumedPerSecond)} | {F(r.P50Ms)} | {F(r.P99Ms)} | {F(r.P999Ms)} | {(r.ConfirmP99Ms is null ? "" : $"{F(r.ConfirmP50Ms)} / {F(r.ConfirmP99Ms)}")} | {N(r.PeakMemoryMb)} | {Cpu(r)} | {Ratio(results, r)} | {r.Note} |");
        }

        if (results.Any(IsMatrix))
        {
            text.AppendLine().Append(Matrix(results));
        }

        return text.ToString();
    }

    private static bool IsMatrix(BenchResult r) => r.Workload.StartsWith("W1 matrix", StringComparison.Ordinal);

    /// <summary>
    /// The W1 matrix: one row per cell and system, with its storage's floor row beside it (for the cell's message
    /// size) and the ratio to RabbitMQ quorum in the same cell.
    /// </summary>
    public static string Matrix(IReadOnlyList<BenchResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| cell | system | confirm durability | msgs/s | MB/s | p50 ms | p99 ms | CPU µs/msg server · client | storage bytes / message byte | ÷ RabbitMQ quorum | storage floor msgs/s (÷ floor) | note |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var size in Workloads.MatrixSizes)
        {
            foreach (var queues in Workloads.MatrixQueues)
            {
                var workload = Workloads.MatrixWorkload(size, queues);
                var quorum = results.FirstOrDefault(r => r.System == Quorum && r.Workload == workload);
                foreach (var r in results.Where(r => r.Workload == workload))
                {
                    var floor = FloorOf(results, r.System, size);
                    var vsQuorum = r != quorum && r.ConsumedPerSecond is { } a && quorum?.ConsumedPerSecond is { } b && b > 0 ? $"{a / b:N2}×" : "";
                    var vsFloor = floor?.ConsumedPerSecond is { } f && r.ConsumedPerSecond is { } c && f > 0 ? $"{N(f)} ({c / f:N2}×)" : "";
                    text.AppendLine(CultureInfo.InvariantCulture,
                        $"| {workload[10..]} | {r.System} | {r.Durability} | {N(r.ConsumedPerSecond)} | {F(r.MegabytesPerSecond)} | {F(r.P50Ms)} | {F(r.P99Ms)} | {Cpu(r)} | {F(r.WriteAmplification)} | {vsQuorum} | {vsFloor} | {r.Note} |");
                }
            }
        }

        var floors = results.Where(r => r.Workload.StartsWith("W1 matrix floor", StringComparison.Ordinal)).ToList();
        if (floors.Count > 0)
        {
            text.AppendLine().AppendLine("| floor | system | durability | msgs/s | MB/s | server CPU µs/msg | storage bytes / message byte | how |");
            text.AppendLine("|---|---|---|---:|---:|---:|---:|---|");
            foreach (var r in floors)
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Workload[10..]} | {r.System} | {r.Durability} | {N(r.ConsumedPerSecond)} | {F(r.MegabytesPerSecond)} | {N(r.ServerCpuUs)} | {F(r.WriteAmplification)} | {r.Note} |");
            }
        }

        return text.ToString();
    }

    /// <summary>The floor row of the storage under <paramref name="system"/> for messages of <paramref name="size"/> bytes, if measured.</summary>
    public static BenchResult? FloorOf(IReadOnlyList<BenchResult> results, string system, int size)
    {
        var floorSystem = system switch
        {
            Reference => AzuriteFloor.SystemName,
            PostgreSql => PostgreSqlFloor.SystemName,
            _ => null,
        };
        return floorSystem is null ? null : results.FirstOrDefault(r => r.System == floorSystem && r.Workload == Workloads.MatrixFloorWorkload(size));
    }

    public static string Json(IReadOnlyList<BenchResult> results, string machine) =>
        JsonSerializer.Serialize(new { machine, utc = DateTime.UtcNow, results }, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>The issue's targets, each with the two numbers it compares; missing rows are reported as not measured.</summary>
    public static IEnumerable<(string Target, bool? Met, string Detail)> Targets(IReadOnlyList<BenchResult> results)
    {
        BenchResult? Row(string system, string workloadPrefix) =>
            results.FirstOrDefault(r => r.System == system && r.Workload.StartsWith(workloadPrefix, StringComparison.Ordinal));

        var w1 = Row(Reference, "W1 send");
        var quorum = Row(Quorum, "W1 send");
        var streams = Row(StreamsTarget.SystemName, "W1 send");
        yield return Compare("W1 consumed/s ≥ 1.5 × RabbitMQ quorum", w1?.ConsumedPerSecond, quorum?.ConsumedPerSecond, (a, b) => a >= 1.5 * b, "x");
        yield return Compare("W1 consumed/s ≥ 50 × Orleans streams", w1?.ConsumedPerSecond, streams?.ConsumedPerSecond, (a, b) => a >= 50 * b, "x");
        var w5 = Row(Reference, "W5");
        var (w5Name, w5Met, w5Detail) = Compare("W5 consumed/s (beside 1,000 held stragglers) ≥ 0.9 × W1, same run", w5?.ConsumedPerSecond, w1?.ConsumedPerSecond,
            (a, b) => a >= 0.9 * b, "x");
        var w5Others = results
            .Where(r => r.System != Reference && r.Workload == Workloads.W5Workload)
            .Select(r => (r.System, W5: r.ConsumedPerSecond, W1: Row(r.System, "W1 send")?.ConsumedPerSecond))
            .Where(r => r.W5 is not null && r.W1 is > 0)
            .Select(r => $"{r.System} {r.W5:N0} vs {r.W1:N0} ({r.W5 / r.W1:N2}×)")
            .ToList();
        yield return (w5Name, w5Met, w5Detail + (w5Others.Count > 0 ? $"; W5 ÷ W1 elsewhere: {string.Join(", ", w5Others)}" : ""));
        var w3 = Row(Reference, "W3 paced 1,000");
        var w3Quorum = Row(Quorum, "W3 paced 1,000");
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

        foreach (var target in EqualDurabilityTargets(results))
        {
            yield return target;
        }
    }

    /// <summary>The targets of issue 17: OrleansQueue on PostgreSQL against RabbitMQ quorum at equal durability, and the matrix on Azurite against its floors.</summary>
    public static IEnumerable<(string Target, bool? Met, string Detail)> EqualDurabilityTargets(IReadOnlyList<BenchResult> results)
    {
        BenchResult? Cell(string system, string workload) => results.FirstOrDefault(r => r.System == system && r.Workload == workload);
        foreach (var size in Workloads.MatrixSizes)
        {
            foreach (var queues in Workloads.MatrixQueues)
            {
                var workload = Workloads.MatrixWorkload(size, queues);
                var pg = Cell(PostgreSql, workload)?.ConsumedPerSecond;
                var quorum = Cell(Quorum, workload)?.ConsumedPerSecond;
                if (size < 64 * 1024)
                {
                    yield return Compare($"PostgreSQL {workload} ≥ 1.5 × RabbitMQ quorum", pg, quorum, (a, b) => a >= 1.5 * b, "x");
                    continue;
                }

                var floor = FloorOf(results, PostgreSql, size)?.ConsumedPerSecond;
                var name = $"PostgreSQL {workload} ≥ 1.0 × RabbitMQ quorum, or ≥ 0.9 × the PostgreSQL floor";
                yield return (pg, quorum, floor) switch
                {
                    ({ } a, { } b, var f) when b > 0 => (name, a >= b || (f is { } ff && a >= 0.9 * ff),
                        $"{a:N0} vs {b:N0} ({a / b:N2}×)" + (f is { } fl && fl > 0 ? $"; floor {fl:N0} ({a / fl:N2}×)" : "")),
                    _ => (name, null, "not measured"),
                };
            }
        }

        var w3 = Cell(PostgreSql, "W3 paced 1,000 msg/s");
        var w3Quorum = Cell(Quorum, "W3 paced 1,000 msg/s");
        var w3Floor = Cell(PostgreSqlFloor.SystemName, "W3 paced 1,000 msg/s");
        var (n3, m3, d3) = Compare("PostgreSQL W3 at 1,000 msg/s: p99 ≤ RabbitMQ quorum p99", w3?.P99Ms, w3Quorum?.P99Ms, (a, b) => a <= b, "ms");
        var pgBound = Cell(LowerBound.PostgreSqlSystemName, "W3 paced 1,000 msg/s")?.P99Ms;
        var pgModel = Cell(LowerBound.PostgreSqlModelSystemName, "W3 paced 1,000 msg/s")?.P99Ms;
        yield return (n3, m3, d3 + (w3Floor?.P99Ms is { } f3 ? $"; one PostgreSQL commit alone: p99 {f3:N2} ms" : "")
            + (pgBound is { } pb ? $"; the lower bound (an Orleans round trip plus one commit, however paired): p99 {pb:N2} ms" : "")
            + (pgModel is { } pm ? $"; with one write in flight: p99 {pm:N2} ms" : "")
            + (Cell(OrleansFloor.PostgreSqlSystemName, "W3 paced 1,000 msg/s")?.P99Ms is { } oc
                ? $"; an Orleans call with one PostgreSQL commit (no queue): p99 {oc:N2} ms"
                    + (w3Quorum?.P99Ms is { } q3 && oc > q3 ? ", above quorum's: past the floor in this run" : "")
                : ""));

        var empty = Cell(PostgreSql, Workloads.W4EmptyWorkload);
        var beside = Cell(PostgreSql, Workloads.W4BesideWorkload);
        var backlog = results.FirstOrDefault(r => r.System == PostgreSql && r.Workload.StartsWith("W4 enqueue, ", StringComparison.Ordinal)
            && r.Workload != Workloads.W4EmptyWorkload && r.Workload != Workloads.W4BesideWorkload);
        var (n4, m4, d4) = Compare("PostgreSQL W4 enqueue/s with the backlog ≥ 0.9 × empty", backlog?.SentPerSecond, empty?.SentPerSecond, (a, b) => a >= 0.9 * b, "x");
        yield return (n4, m4, d4 + (beside?.SentPerSecond is { } bs && backlog?.SentPerSecond is { } bl && bs > 0
            ? $"; an empty queue beside the backlog, alternating: {bl:N0} vs {bs:N0} ({bl / bs:N2}×)" : ""));
        yield return Compare("PostgreSQL W4 silo peak memory with the backlog ≤ 1.1 × with an empty queue", backlog?.PeakMemoryMb, empty?.PeakMemoryMb,
            (a, b) => a <= 1.1 * b, "x");

        foreach (var system in new[] { PostgreSql, Reference })
        {
            var label = system == PostgreSql ? "PostgreSQL" : "Azurite";
            var w9Empty = Cell(system, Workloads.W9EmptyWorkload);
            var w9 = results.FirstOrDefault(r => r.System == system && r.Workload.StartsWith("W9: W1 beside", StringComparison.Ordinal));
            if (w9Empty is null || w9 is null)
            {
                continue;
            }

            yield return Compare($"{label} W9 consumed/s beside the scheduled messages ≥ 0.9 × on an empty queue", w9.ConsumedPerSecond, w9Empty.ConsumedPerSecond,
                (a, b) => a >= 0.9 * b, "x");
            yield return Compare($"{label} W9 silo peak memory beside the scheduled messages ≤ 1.1 × without", w9.PeakMemoryMb, w9Empty.PeakMemoryMb,
                (a, b) => a <= 1.1 * b, "x");
        }

        var short15 = new List<string>();
        var unnamed = 0;
        var measured = 0;
        foreach (var size in Workloads.MatrixSizes)
        {
            foreach (var queues in Workloads.MatrixQueues)
            {
                var workload = Workloads.MatrixWorkload(size, queues);
                if ((Cell(Reference, workload)?.ConsumedPerSecond, Cell(Quorum, workload)?.ConsumedPerSecond) is not ({ } a, { } b) || b <= 0)
                {
                    continue;
                }

                measured++;
                if (a >= 1.5 * b)
                {
                    continue;
                }

                var floor = FloorOf(results, Reference, size)?.ConsumedPerSecond;
                unnamed += floor is null ? 1 : 0;
                short15.Add($"{workload[10..]} {a / b:N2}× (Azurite floor {(floor is { } f ? $"{f:N0} msgs/s, {a / f:N2}× of it" : "not measured")})");
            }
        }

        yield return ("Azurite: every W1 matrix cell short of 1.5 × RabbitMQ quorum names its floor", measured == 0 ? null : unnamed == 0,
            measured == 0 ? "not measured" : short15.Count == 0 ? $"all {measured} cells at 1.5× or more" : $"{short15.Count} of {measured} short: {string.Join("; ", short15)}");
        yield return Compare("Azurite W3 at 1,000 msg/s: p99 ≤ 1.2 × the one-write-in-flight model", Cell(Reference, "W3 paced 1,000 msg/s")?.P99Ms,
            Cell(LowerBound.ModelSystemName, "W3 paced 1,000 msg/s")?.P99Ms is { } model ? 1.2 * model : null, (a, b) => a <= b, "ms");
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
