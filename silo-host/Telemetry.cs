using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrleansQueue.Diagnostics;

namespace OrleansQueue.SiloHost;

/// <summary>OpenTelemetry export chosen by the <c>Telemetry</c> section.</summary>
internal static class Telemetry
{
    private static readonly string[] Meters = [QueueInstruments.Name, "Microsoft.Orleans"];
    private static readonly string[] Sources = [QueueInstruments.Name, "Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime"];

    /// <summary>Adds the exporters; returns whether traces are exported (so grain calls should carry activities).</summary>
    public static bool AddTelemetry(this IServiceCollection services, TelemetrySettings settings, string serviceName)
    {
        var exporter = settings.Exporter.ToLowerInvariant();
        if (exporter == "none")
        {
            return false;
        }

        if (exporter is not ("console" or "otlp"))
        {
            throw new InvalidOperationException($"Telemetry:Exporter is '{settings.Exporter}'; use None, Console or Otlp.");
        }

        if (settings.MetricsIntervalMs < 1000)
        {
            throw new InvalidOperationException($"Telemetry:MetricsIntervalMs is {settings.MetricsIntervalMs}; use 1000 or more.");
        }

        Uri? endpoint = null;
        if (!string.IsNullOrEmpty(settings.OtlpEndpoint) && !Uri.TryCreate(settings.OtlpEndpoint, UriKind.Absolute, out endpoint))
        {
            throw new InvalidOperationException($"Telemetry:OtlpEndpoint '{settings.OtlpEndpoint}' is not an absolute URI (e.g. http://127.0.0.1:4317).");
        }

        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(Meters);
                if (exporter == "console")
                {
                    metrics.AddConsoleExporter((_, reader) => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = settings.MetricsIntervalMs);
                }
                else
                {
                    metrics.AddOtlpExporter((o, reader) =>
                    {
                        if (endpoint is not null)
                        {
                            o.Endpoint = endpoint;
                        }

                        reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = settings.MetricsIntervalMs;
                    });
                }
            });

        if (settings.Traces)
        {
            otel.WithTracing(tracing =>
            {
                tracing.AddSource(Sources);
                if (exporter == "console")
                {
                    tracing.AddConsoleExporter();
                }
                else
                {
                    tracing.AddOtlpExporter(o =>
                    {
                        if (endpoint is not null)
                        {
                            o.Endpoint = endpoint;
                        }
                    });
                }
            });
        }

        return settings.Traces;
    }
}
