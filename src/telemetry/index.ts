/**
 * OpenTelemetry for vial (docs/telemetry.md): with an SDK registered, each request is a server
 * span following the HTTP semantic conventions, continuing the caller's W3C trace context, active
 * in hooks and handlers so that outgoing calls and log lines carry it. On by default: with no SDK
 * registered the plugin adds nothing to any request (only @opentelemetry/api is imported).
 */
import { context, propagation } from '@opentelemetry/api';
import { definePlugin } from '../plugin.ts';
import { createEdge } from '../security/edge.ts';
import { traceServer } from './server-span.ts';
import { registeredTracer } from './tracer.ts';

export { traceLogFields } from './tracer.ts';
export type { TraceLogFields } from './tracer.ts';

/**
 * The built-in telemetry plugin. Whether an SDK is registered is asked once per server vial
 * creates (`listen()`, `createServer()`, `vial run` workers): register the SDK before that, as
 * OpenTelemetry's Node guide does (`node --import ./instrumentation.ts app.ts`).
 */
export const telemetry = definePlugin<undefined>({
  name: 'telemetry',
  setup(r) {
    const config = r.app.config;
    r.onServer((server) => {
      const tracer = registeredTracer();
      if (tracer === undefined) return undefined;
      const edge = createEdge({ allowedHosts: undefined, trustProxy: config.trustProxy });
      return traceServer(server, tracer, edge, config.load.deadlines.requestTimeoutMs);
    });
  },
});

/**
 * The headers that continue the active trace in an outgoing request (`traceparent`, `tracestate`,
 * `baggage`: whatever the registered propagator writes), added to `headers` if given. Without an
 * SDK, or outside a trace, it adds nothing. `fetch(url, { headers: traceHeaders() })`.
 */
export function traceHeaders(headers: Record<string, string> = {}): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}
