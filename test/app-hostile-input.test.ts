/**
 * Hostile input through a real server (issue 5): broken and deep JSON, prototype-pollution keys,
 * repeated query parameters, header injection through a handler, open redirects, cookie floods,
 * header floods and slow clients. Each must get a clear 4xx (or be ignored where that is safe),
 * never a 500 with details, never a crash or a hang: the server answers a plain GET afterwards.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { redirect } from '../src/index.ts';
import type { Vial, VialOptions } from '../src/index.ts';
import { makeApp } from './helpers/both.ts';
import { rawOpen, rawRequest } from './helpers/raw.ts';
import type { RawResponse } from './helpers/raw.ts';

interface ErrorJson {
  error: { status: number; code: string; message: string; requestId: string };
}

function hostileApp(options: VialOptions = {}): Vial {
  const app = makeApp({ env: 'development', ...options, security: { session: { store: 'memory' } } });
  app.get('/health', () => 'ok');
  app.post('/json', async (ctx) => ({ got: await ctx.request.json() }));
  app.post('/form', async (ctx) => {
    const form = await ctx.request.form();
    const object = form.toObject();
    return {
      isUrlSearchParams: form.fields instanceof URLSearchParams,
      keys: [...form.fields.keys()],
      objectHasNullPrototype: Object.getPrototypeOf(object) === null,
      pollutedViaObject: (object as { polluted?: unknown }).polluted ?? null,
    };
  });
  app.get('/ids', (ctx) => ({ first: ctx.query.get('id'), all: ctx.query.getAll('id') }));
  app.get('/go', (ctx) => redirect(ctx.query.get('next') ?? '/'));
  app.get('/cookies', (ctx) => ({ count: Object.keys(ctx.request.cookies).length, user: ctx.session.userId ?? null }));
  return app;
}

async function listen(t: TestContext, app: Vial): Promise<number> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  return running.port;
}

function request(method: string, target: string, headers: Record<string, string> = {}, body?: Buffer | string): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body === undefined ? head : Buffer.concat([head, Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
}

function errorCode(res: RawResponse): string {
  return (JSON.parse(res.body) as ErrorJson).error.code;
}

/** A 4xx with vial's JSON error body (or Node's bare parser refusal), nothing internal in it. */
function assertClean4xx(res: RawResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.raw.slice(0, 300)}`);
  assert.doesNotMatch(res.body, /\bat [\w.<>]+ \(|node:internal|\/work\//, `${what}: no stack or path in the body`);
}

/** Starts test/fixtures/browser/header-echo-server.ts in a child process; killed (by pid) when the test ends. */
async function startEchoServer(t: TestContext): Promise<{ port: number; alive: () => boolean }> {
  const child = spawn(process.execPath, [new URL('./fixtures/browser/header-echo-server.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.after(async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    process.kill(child.pid, 'SIGTERM');
    await Promise.race([exited, sleep(5_000, undefined, { ref: false })]);
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  });
  const port = await Promise.race([
    new Promise<number>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))),
    sleep(10_000, undefined, { ref: false }).then(() => {
      throw new Error(`the echo server did not start within 10 s: ${stderr}`);
    }),
  ]);
  return { port, alive: () => child.exitCode === null && child.signalCode === null };
}

async function stillServes(port: number): Promise<void> {
  const res = await rawRequest(port, request('GET', '/health'));
  assert.equal(res.status, 200, 'the server still answers');
}

describe('hostile bodies', () => {
  it('answers invalid UTF-8 in a JSON body with 400 VIAL_ERR_BAD_UTF8', async (t) => {
    const port = await listen(t, hostileApp());
    const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    const res = await rawRequest(port, request('POST', '/json', { 'Content-Type': 'application/json' }, body));
    assertClean4xx(res, 400, 'invalid UTF-8');
    assert.equal(errorCode(res), 'VIAL_ERR_BAD_UTF8');
  });

  it('answers 100,000 nested arrays with a 400, open or closed, without blowing the stack', async (t) => {
    const port = await listen(t, hostileApp());
    const open = '['.repeat(100_000);
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ['unbalanced', open, 'VIAL_ERR_MALFORMED_JSON'],
      ['balanced', open + ']'.repeat(100_000), 'VIAL_ERR_JSON_TOO_DEEP'],
    ];
    for (const [what, body, code] of cases) {
      const res = await rawRequest(port, request('POST', '/json', { 'Content-Type': 'application/json' }, body));
      assertClean4xx(res, 400, what);
      assert.equal(errorCode(res), code, what);
    }
    await stillServes(port);
  });

  it('refuses __proto__ and constructor.prototype keys in JSON with 400, and Object.prototype stays clean', async (t) => {
    const port = await listen(t, hostileApp());
    const bodies = ['{"__proto__":{"polluted":1}}', '{"a":{"constructor":{"prototype":{"polluted":1}}}}', '[{"__proto__":{"polluted":1}}]'];
    for (const body of bodies) {
      const res = await rawRequest(port, request('POST', '/json', { 'Content-Type': 'application/json' }, body));
      assertClean4xx(res, 400, body);
      assert.equal(errorCode(res), 'VIAL_ERR_JSON_FORBIDDEN_KEY', body);
    }
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it('keeps pollution keys in urlencoded forms as plain strings: forms are URLSearchParams, and toObject() has no prototype', async (t) => {
    const port = await listen(t, hostileApp());
    const body = '__proto__[polluted]=1&__proto__=x&constructor[prototype][polluted]=1&polluted=own';
    const res = await rawRequest(port, request('POST', '/form', { 'Content-Type': 'application/x-www-form-urlencoded', 'Sec-Fetch-Site': 'same-origin' }, body));
    assert.equal(res.status, 200, res.raw);
    assert.deepEqual(JSON.parse(res.body), {
      isUrlSearchParams: true,
      keys: ['__proto__[polluted]', '__proto__', 'constructor[prototype][polluted]', 'polluted'],
      objectHasNullPrototype: true,
      pollutedViaObject: 'own',
    });
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  });
});

describe('hostile query strings and handler echoes', () => {
  it('gives the first of repeated query parameters to query.get and all of them to getAll', async (t) => {
    const port = await listen(t, hostileApp());
    const res = await rawRequest(port, request('GET', '/ids?id=1&id=2&id=3'));
    assert.deepEqual(JSON.parse(res.body), { first: '1', all: ['1', '2', '3'] });
  });

  const INJECTIONS = ['a%0d%0aSet-Cookie:%20evil=1', 'a%0aX-Injected:%201', 'a%0d%0a%0d%0a<script>alert(1)</script>', 'a%00b'];
  const ECHO_ROUTES = ['/sync/ctx', '/sync/response', '/async/ctx', '/async/response'];

  it(
    'answers a handler that echoes CR/LF into a header with a generic 500: no split, no leak, no crash',
    {},
    async (t) => {
      const child = await startEchoServer(t);
      for (const path of ECHO_ROUTES) {
        for (const v of INJECTIONS) {
          const res = await rawRequest(child.port, request('GET', `${path}?v=${v}`)).catch((error: unknown) => {
            throw new Error(`${path}?v=${v}: no response (server alive: ${child.alive()})`, { cause: error });
          });
          assert.equal(res.status, 500, `${path}?v=${v}: ${res.raw.slice(0, 300)}`);
          assert.equal(res.header('set-cookie'), undefined);
          assert.equal(res.header('x-injected'), undefined);
          assert.equal(res.header('x-echo'), undefined);
          assert.equal(errorCode(res), 'VIAL_ERR_INTERNAL');
          assert.doesNotMatch(res.body, /ERR_INVALID_CHAR|Invalid character|x-echo/i, 'the body does not leak the cause');
        }
      }
      assert.equal((await rawRequest(child.port, request('GET', '/sync/ctx?v=plain'))).header('x-echo'), 'plain');
    },
  );

  it('refuses open redirects through redirect(query.get("next")) with 400 and follows same-site paths', async (t) => {
    const port = await listen(t, hostileApp());
    const attempts = [
      '//evil.example',
      'https://evil.example/',
      '%2F%2Fevil.example',
      '/%5Cevil.example',
      '/\\evil.example',
      'javascript:alert(1)',
      '/ok%0d%0aLocation:%20https://evil.example',
      'http:evil.example',
    ];
    for (const next of attempts) {
      const res = await rawRequest(port, request('GET', `/go?next=${next.replace(/\\/g, '%5C')}`));
      assertClean4xx(res, 400, next);
      assert.equal(errorCode(res), 'VIAL_ERR_OPEN_REDIRECT', next);
      assert.equal(res.header('location'), undefined, next);
    }
    const ok = await rawRequest(port, request('GET', '/go?next=/account%3Ftab%3D1'));
    assert.equal(ok.status, 302);
    assert.equal(ok.header('location'), '/account?tab=1');
  });
});

describe('hostile headers', () => {
  it('reads at most 100 cookies and serves a 15 KiB cookie header; a 16 KiB one gets 431', async (t) => {
    const port = await listen(t, hostileApp());
    const many = Array.from({ length: 150 }, (_, i) => `c${i}=${i}`).join('; ');
    const manyRes = await rawRequest(port, request('GET', '/cookies', { Cookie: many }));
    assert.equal(manyRes.status, 200, manyRes.raw.slice(0, 300));
    assert.deepEqual(JSON.parse(manyRes.body), { count: 100, user: null });

    const big = `vial_session=${'a'.repeat(15 * 1024)}`;
    const bigRes = await rawRequest(port, request('GET', '/cookies', { Cookie: big }));
    assert.equal(bigRes.status, 200, bigRes.raw.slice(0, 300));
    assert.deepEqual(JSON.parse(bigRes.body), { count: 1, user: null });

    const huge = await rawRequest(port, request('GET', '/cookies', { Cookie: `x=${'a'.repeat(16 * 1024)}` }));
    assertClean4xx(huge, 431, '16 KiB cookie');
    await stillServes(port);
  });

  it('answers 431 to too many headers and to oversize headers', async (t) => {
    const port = await listen(t, hostileApp());
    const manyHeaders: Record<string, string> = {};
    for (let i = 0; i < 150; i++) manyHeaders[`X-H${i}`] = String(i);
    assertClean4xx(await rawRequest(port, request('GET', '/health', manyHeaders)), 431, '150 headers');
    assertClean4xx(await rawRequest(port, request('GET', '/health', { 'X-Big': 'b'.repeat(20_000) })), 431, 'one 20 KB header');
    await stillServes(port);
  });

  it('answers 408 to a slowloris client that never finishes its headers, and to a trickling body', async (t) => {
    const port = await listen(
      t,
      hostileApp({ load: { server: { headersTimeoutMs: 300, requestTimeoutMs: 600, connectionsCheckingIntervalMs: 50 } } }),
    );
    const slowHeaders = rawOpen(port, 5_000);
    slowHeaders.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => slowHeaders.socket.write('X-Slow: 1\r\n'), 100);
    t.after(() => clearInterval(drip));
    const headersRes = await slowHeaders.response;
    clearInterval(drip);
    assert.equal(headersRes.status, 408, headersRes.raw);

    const slowBody = rawOpen(port, 5_000);
    slowBody.socket.write('POST /json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[');
    const bodyDrip = setInterval(() => slowBody.socket.write('1,'), 100);
    t.after(() => clearInterval(bodyDrip));
    const bodyRes = await slowBody.response;
    clearInterval(bodyDrip);
    assert.equal(bodyRes.status, 408, bodyRes.raw);
    await sleep(10);
    await stillServes(port);
  });
});
