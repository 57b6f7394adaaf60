/**
 * Whether an OpenTelemetry SDK is registered, asked through @opentelemetry/api only (vial imports
 * no SDK package), and the fields that put a log line in its trace.
 *
 * Without an SDK, `trace.getTracerProvider()` is the API's own ProxyTracerProvider with no delegate:
 * every span it would make is a non-recording no-op. vial checks that once, when a server is
 * created, and adds no per-request work at all in that case.
 */
import { context, ProxyTracerProvider, trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';

/** The instrumentation scope of vial's spans. */
export const TRACER_NAME = 'vial';

/** The registered SDK's tracer, or undefined when no tracer provider is registered (spans would be no-ops). */
export function registeredTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  // A provider registered through another copy of the API is not our ProxyTracerProvider class,
  // but the API only puts a provider into the global slot when one was set: it is real.
  if (provider instanceof ProxyTracerProvider) return provider.getDelegateTracer(TRACER_NAME);
  return provider.getTracer(TRACER_NAME);
}

export interface TraceLogFields {
  readonly trace_id?: string;
  readonly span_id?: string;
  readonly trace_flags?: string;
}

/**
 * `trace_id`, `span_id` and `trace_flags` of the active span (the names OpenTelemetry's log data
 * model and its pino instrumentation use), or no field outside a trace. vial's own logger uses it
 * as pino's `mixin`; pass it as `mixin` to a logger of your own (`log: { logger }`).
 */
export function traceLogFields(): TraceLogFields {
  const span = trace.getSpan(context.active());
  // A new object each time: pino's default mixin merge assigns the line's fields into it.
  if (span === undefined) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}`.slice(-2) };
}
