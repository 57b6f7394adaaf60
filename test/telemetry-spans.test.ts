/**
 * vial's server spans against the real OpenTelemetry SDK (NodeTracerProvider: the AsyncLocalStorage
 * context manager and the W3C propagator) and its in-memory exporter. Registered once for this
 * file's process; test/telemetry-noop.test.ts covers the process with no SDK.
 */
import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { abort, traceHeaders, Vial, VialError } from '../src/index.ts';
import type { RunningServer, VialOptions } from '../src/index.ts';
import { pollUntil } from './helpers/wait.ts';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
after(() => provider.shutdown());
beforeEach(() => exporter.reset());

const servers: RunningServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function serve(app: Vial): Promise<string> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(running);
  return running.url;
}

function newApp(options: VialOptions = {}): Vial {
  return new Vial({ env: 'test', ...options });
}

/** The server spans exported so far whose url.path is `path`, once there are `count`. */
function serverSpans(path: string, count = 1): Promise<ReadableSpan[]> {
  return pollUntil(`${count} server span(s) for ${path}`, () => {
    const spans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === path);
    return spans.length >= count ? spans : undefined;
  });
}

describe('server spans with the OpenTelemetry SDK registered', () => {
  it('names the span by method and route template and sets the HTTP semantic-convention attributes', async () => {
    const app = newApp();
    app.get('/users/<int:id>', (ctx) => ({ id: ctx.params['id'] }));
    const url = await serve(app);
    const res = await fetch(`${url}/users/7?tab=posts`, { headers: { 'user-agent': 'otel-test' } });
    assert.equal(res.status, 200);
    const [span] = await serverSpans('/users/7');
    assert.ok(span);
    assert.equal(span.name, 'GET /users/<int:id>');
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.instrumentationScope.name, 'vial');
    const { port } = new URL(url);
    assert.deepEqual(
      { ...span.attributes },
      {
        'http.request.method': 'GET',
        'url.path': '/users/7',
        'url.scheme': 'http',
        'network.protocol.version': '1.1',
        'server.address': '127.0.0.1',
        'server.port': Number(port),
        'client.address': '127.0.0.1',
        'network.peer.address': '127.0.0.1',
        'user_agent.original': 'otel-test',
        'http.route': '/users/<int:id>',
        'http.response.status_code': 200,
      },
    );
    assert.equal(span.status.code, SpanStatusCode.UNSET);
  });

  it('marks 5xx responses as errors with error.type, and leaves 4xx unset', async () => {
    const app = newApp();
    app.get('/boom', () => {
      throw new TypeError('broken');
    });
    app.get('/busy', () => {
      throw new VialError('VIAL_ERR_OVERLOADED', 'busy', { status: 503, expose: true });
    });
    app.get('/missing', () => abort(404));
    const url = await serve(app);
    assert.equal((await fetch(`${url}/boom`)).status, 500);
    assert.equal((await fetch(`${url}/busy`)).status, 503);
    assert.equal((await fetch(`${url}/missing`)).status, 404);
    const [boom] = await serverSpans('/boom');
    assert.equal(boom?.status.code, SpanStatusCode.ERROR);
    assert.equal(boom?.attributes['error.type'], 'TypeError');
    assert.equal(boom?.attributes['http.response.status_code'], 500);
    assert.equal(boom?.events[0]?.name, 'exception');
    const [busy] = await serverSpans('/busy');
    assert.equal(busy?.attributes['error.type'], 'VIAL_ERR_OVERLOADED');
    const [missing] = await serverSpans('/missing');
    assert.equal(missing?.status.code, SpanStatusCode.UNSET);
    assert.equal(missing?.attributes['error.type'], undefined);
  });

  it('names an unmatched request by its method alone, with no http.route', async () => {
    const url = await serve(newApp());
    assert.equal((await fetch(`${url}/nowhere`)).status, 404);
    const [span] = await serverSpans('/nowhere');
    assert.equal(span?.name, 'GET');
    assert.equal(span?.attributes['http.route'], undefined);
    assert.equal(span?.attributes['http.response.status_code'], 404);
  });

  it('continues an incoming traceparent and keeps its tracestate', async () => {
    const app = newApp();
    app.get('/continued', () => 'ok');
    const url = await serve(app);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await fetch(`${url}/continued`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=abc' } });
    const [span] = await serverSpans('/continued');
    assert.equal(span?.spanContext().traceId, traceId);
    assert.equal(span?.parentSpanContext?.spanId, '00f067aa0ba902b7');
    assert.equal(span?.parentSpanContext?.isRemote, true);
    assert.equal(span?.spanContext().traceState?.get('vendor'), 'abc');
  });

  it('makes the server span active in the handler, so spans the handler starts are its children', async () => {
    const app = newApp();
    app.get('/work', async () => {
      await trace.getTracer('app').startActiveSpan('load user', async (span) => {
        await new Promise((resolve) => setImmediate(resolve));
        span.end();
      });
      return 'done';
    });
    const url = await serve(app);
    await fetch(`${url}/work`);
    const [server] = await serverSpans('/work');
    const child = exporter.getFinishedSpans().find((s) => s.name === 'load user');
    assert.ok(server && child);
    assert.equal(child.parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(child.spanContext().traceId, server.spanContext().traceId);
  });

  it("links two vial services: B's server span is a child of A's, in the same trace", async () => {
    const b = newApp({ name: 'service-b' });
    b.get('/b/<name>', (ctx) => ({ hello: ctx.params['name'] }));
    const bUrl = await serve(b);
    const a = newApp({ name: 'service-a' });
    a.get('/a', async (ctx) => {
      const res = await fetch(`${bUrl}/b/ada`, { headers: traceHeaders({ accept: 'application/json' }), signal: ctx.signal });
      return { fromB: await res.json() };
    });
    const aUrl = await serve(a);
    const res = await fetch(`${aUrl}/a`);
    assert.deepEqual(await res.json(), { fromB: { hello: 'ada' } });
    const [aSpan] = await serverSpans('/a');
    const [bSpan] = await serverSpans('/b/ada');
    assert.ok(aSpan && bSpan);
    assert.equal(aSpan.parentSpanContext, undefined, "A's span is the root: its client sent no traceparent");
    assert.equal(bSpan.name, 'GET /b/<name>');
    assert.equal(bSpan.spanContext().traceId, aSpan.spanContext().traceId);
    assert.equal(bSpan.parentSpanContext?.spanId, aSpan.spanContext().spanId);
  });

  it('takes client.address, url.scheme and server.address through a trusted proxy only', async () => {
    const trusting = newApp({ trustProxy: 1 });
    trusting.get('/proxied', () => 'ok');
    const trustingUrl = await serve(trusting);
    const ignoring = newApp();
    ignoring.get('/direct', () => 'ok');
    const ignoringUrl = await serve(ignoring);
    const forwarded = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' };
    await fetch(`${trustingUrl}/proxied`, { headers: forwarded });
    await fetch(`${ignoringUrl}/direct`, { headers: forwarded });
    const [proxied] = await serverSpans('/proxied');
    assert.equal(proxied?.attributes['client.address'], '203.0.113.9');
    assert.equal(proxied?.attributes['url.scheme'], 'https');
    assert.equal(proxied?.attributes['server.address'], 'shop.example');
    assert.equal(proxied?.attributes['server.port'], 443);
    assert.equal(proxied?.attributes['network.peer.address'], '127.0.0.1');
    const [direct] = await serverSpans('/direct');
    assert.equal(direct?.attributes['client.address'], '127.0.0.1');
    assert.equal(direct?.attributes['url.scheme'], 'http');
  });

  it('ends the span with the route even when teardown hooks finish after the response closed', async () => {
    let finishTeardown: () => void = () => {};
    const teardownGate = new Promise<void>((resolve) => (finishTeardown = resolve));
    const app = newApp();
    app.teardownRequest(() => teardownGate);
    app.get('/slow-teardown', () => 'ok');
    const url = await serve(app);
    assert.equal(await (await fetch(`${url}/slow-teardown`)).text(), 'ok');
    assert.equal(exporter.getFinishedSpans().length, 0, 'the request is not finished while its teardown runs');
    finishTeardown();
    const [span] = await serverSpans('/slow-teardown');
    assert.equal(span?.name, 'GET /slow-teardown');
    assert.equal(span?.attributes['http.route'], '/slow-teardown');
  });

  it("puts the request's trace_id and span_id in its log lines, the request log's included", async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
    const app = newApp({ log: { level: 'info', requests: true, destination } });
    app.get('/logged', (ctx) => {
      ctx.log.info('inside the handler');
      return 'ok';
    });
    const url = await serve(app);
    await fetch(`${url}/logged`);
    const [span] = await serverSpans('/logged');
    assert.ok(span);
    const { traceId, spanId } = span.spanContext();
    const mine = await pollUntil('the request line', () => (lines.some((l) => l['msg'] === 'request') ? lines.filter((l) => l['trace_id'] === traceId) : undefined));
    assert.deepEqual(mine.map((l) => l['msg']).sort(), ['inside the handler', 'request']);
    for (const line of mine) {
      assert.equal(line['span_id'], spanId);
      assert.equal(line['trace_flags'], '01');
    }
    const listening = lines.find((l) => l['msg'] === 'vial: listening');
    assert.equal(listening?.['trace_id'], undefined, 'lines outside a request carry no trace id');
  });

  it('makes session-store calls and offloaded work child spans of the request', async () => {
    const app = newApp({ security: { session: { store: 'memory', secure: false } }, load: { offload: { maxThreads: 1 } } });
    app.post('/login', { csrf: false }, (ctx) => {
      ctx.session.login('ada');
      return 'in';
    });
    app.get('/sum', async (ctx) => ({ total: await ctx.offload<number>(new URL('./fixtures/app-load/cpu-task.ts', import.meta.url), { n: 10 }) }));
    const url = await serve(app);
    const login = await fetch(`${url}/login`, { method: 'POST' });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    await fetch(`${url}/sum`, { headers: { cookie } });
    const [loginSpan] = await serverSpans('/login');
    const [sumSpan] = await serverSpans('/sum');
    assert.ok(loginSpan && sumSpan);
    const children = (parent: ReadableSpan) => exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
    const saved = children(loginSpan).find((s) => s.name === 'session.set');
    assert.equal(saved?.attributes['vial.session.store'], 'MemorySessionStore');
    assert.equal(saved?.kind, SpanKind.INTERNAL);
    const names = children(sumSpan).map((s) => s.name).sort();
    assert.deepEqual(names, ['offload', 'session.get']);
    const offload = children(sumSpan).find((s) => s.name === 'offload');
    assert.match(String(offload?.attributes['vial.offload.module']), /cpu-task\.ts$/);
    await app.load.offload.close();
  });
});
