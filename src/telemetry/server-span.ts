/**
 * Each request a server span, as OpenTelemetry's HTTP semantic conventions describe it
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/), continuing the caller's trace
 * from `traceparent`/`tracestate` (W3C Trace Context, through the registered propagator).
 *
 * The span is opened around the server's 'request' event, so its context is active in everything
 * the request runs: hooks, the handler, whatever they await, and the log lines they write (the
 * AsyncLocalStorage context manager the SDK registers carries it). It ends when vial publishes the
 * request on `vial:request` (the route template and the error are known there), or, for the rare
 * request vial never publishes (a response that could not be written), once the response closed.
 *
 * Only installed on a server when an SDK is registered (tracer.ts): without one, nothing here runs.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context as OtelContext, Span, Tracer } from '@opentelemetry/api';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createContextKey } from '@opentelemetry/api';
import { VialError } from '../errors.ts';
import { requestChannel } from '../request-events.ts';
import type { RequestEvent } from '../request-events.ts';
import type { Edge } from '../security/edge.ts';

/** Methods semconv names as they are; any other becomes `_OTHER` (cardinality of span names). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** Where the request's span state sits in its OpenTelemetry context (ours, never a user's span). */
const SERVER_SPAN = createContextKey('vial server span');

interface ServerSpan {
  readonly span: Span;
  readonly method: string;
  readonly res: ServerResponse;
  ended: boolean;
  /** When the response closed, if that came before vial published the request. */
  closedAt: number | undefined;
}

/**
 * Wraps `server.emit('request', ...)` so that each request runs in a context holding its server
 * span; returns the function that undoes it. Patching emit (not replacing listeners) catches every
 * 'request' listener, including vial's 100-continue path, which emits 'request' itself.
 */
export function traceServer(server: Server, tracer: Tracer, edge: Edge, graceMs: number): () => void {
  // Intentionally unbound: called with the server as `this`, as Node calls it.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const emit = server.emit;
  const traced = function tracedEmit(this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'request') return Reflect.apply(emit, this, [event, ...args]) as boolean;
    const req = args[0] as IncomingMessage;
    const res = args[1] as ServerResponse;
    const ctx = startServerSpan(tracer, edge, req, res, graceMs);
    return context.with(ctx, () => Reflect.apply(emit, this, [event, ...args]) as boolean);
  };
  server.emit = traced as Server['emit'];
  subscribe();
  return () => {
    if (server.emit === traced) server.emit = emit;
    unsubscribe();
  };
}

function startServerSpan(tracer: Tracer, edge: Edge, req: IncomingMessage, res: ServerResponse, graceMs: number): OtelContext {
  const parent = propagation.extract(context.active(), req.headers);
  const raw = req.method ?? 'GET';
  const method = KNOWN_METHODS.has(raw) ? raw : '_OTHER';
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const view = edge.view(req);
  const attributes: Attributes = {
    'http.request.method': method,
    'url.path': q === -1 ? target : target.slice(0, q),
    'url.scheme': view.protocol,
    // semconv writes HTTP/2 as "2" (Node says "2.0"), HTTP/1.1 as "1.1".
    'network.protocol.version': req.httpVersion === '2.0' ? '2' : req.httpVersion,
  };
  if (method === '_OTHER') attributes['http.request.method_original'] = raw;
  const { address, port } = splitHost(view.host, view.protocol);
  if (address !== undefined) attributes['server.address'] = address;
  if (port !== undefined) attributes['server.port'] = port;
  if (view.ip !== undefined) attributes['client.address'] = view.ip;
  const peer = req.socket.remoteAddress;
  if (peer !== undefined) attributes['network.peer.address'] = peer;
  const agent = req.headers['user-agent'];
  if (agent !== undefined) attributes['user_agent.original'] = agent;
  // Named by method until the route is known (semconv: `{method}` when there is no route).
  const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes }, parent);
  const state: ServerSpan = { span, method, res, ended: false, closedAt: undefined };
  res.once('close', () => {
    if (state.ended) return;
    // Teardown hooks still running: the event comes later, and the span ends at this time then.
    state.closedAt = Date.now();
    setTimeout(closedUnpublished, graceMs, state).unref();
  });
  return trace.setSpan(parent, span).setValue(SERVER_SPAN, state);
}

/** `host[:port]` (or `[v6]:port`) into semconv's server.address and server.port. */
function splitHost(host: string | undefined, protocol: 'http' | 'https'): { address?: string; port?: number } {
  if (host === undefined || host === '') return {};
  const close = host.lastIndexOf(']');
  const colon = host.lastIndexOf(':');
  if (colon > close && colon !== -1) {
    const port = Number(host.slice(colon + 1));
    return { address: host.slice(host.startsWith('[') ? 1 : 0, close === -1 ? colon : close), ...(Number.isInteger(port) ? { port } : {}) };
  }
  return { address: close === -1 ? host : host.slice(1, close), port: protocol === 'https' ? 443 : 80 };
}

/** The `vial:request` event of a traced request: name it by route, record status and error, end it. */
function onRequestEvent(event: RequestEvent): void {
  // Published inside the request's own context (dispatch's release step), so it holds our state.
  const state = context.active().getValue(SERVER_SPAN) as ServerSpan | undefined;
  if (state === undefined || state.ended) return;
  state.ended = true;
  const { span } = state;
  if (event.route !== undefined) {
    // The key is `GET /users/<int:id>`: the route template as written, with its blueprint prefix.
    const route = event.route.slice(event.route.indexOf(' ') + 1);
    span.setAttribute('http.route', route);
    span.updateName(`${state.method} ${route}`);
  }
  finish(span, event.status, event.error, state.closedAt);
}

/**
 * A response that closed and was still not published one request deadline later: vial could not
 * write it (and logged why). Ends the span with what is known, at the time the response closed.
 */
function closedUnpublished(state: ServerSpan): void {
  if (state.ended) return;
  state.ended = true;
  finish(state.span, state.res.statusCode, undefined, state.closedAt);
}

function finish(span: Span, status: number, error: unknown, endedAt: number | undefined): void {
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) {
    // error.type: vial's code for its own errors, the class name for others, else the status.
    const type = error instanceof VialError ? error.code : error instanceof Error ? error.name : String(status);
    span.setAttribute('error.type', type);
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, ...(error instanceof Error ? { message: error.message } : {}) });
  }
  span.end(endedAt);
}

/** One `vial:request` subscriber for all traced servers of the process. */
let servers = 0;
function subscribe(): void {
  if (servers++ === 0) requestChannel.subscribe(onRequestEvent);
}
function unsubscribe(): void {
  if (--servers === 0) requestChannel.unsubscribe(onRequestEvent);
}
