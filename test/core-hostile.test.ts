import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { abort, redirect } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody, Reply } from './helpers/both.ts';
import { rawRequest } from './helpers/raw.ts';
import type { RawResponse } from './helpers/raw.ts';

/** On every response. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "frame-ancestors 'none'",
};
/** Only on documents (anything but JSON and event streams): they mean nothing on data. */
const DOCUMENT_HEADERS: Readonly<Record<string, string>> = {
  'referrer-policy': 'strict-origin-when-cross-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

function hostileApp(): ReturnType<typeof makeApp> {
  const app = makeApp();
  app.get('/b', () => 'b');
  app.get('/a/b', () => 'a/b');
  app.get('/files/<path:rest>', (ctx) => ({ rest: ctx.params['rest'] }));
  app.get('/x/<name>', (ctx) => ({ name: ctx.params['name'] }));
  return app;
}

function assertSecurityHeaders(res: Reply | RawResponse, what: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    assert.equal(res.header(name), value, `${what}: ${name}`);
  }
  const data = /^(application\/json|text\/event-stream)/.test(res.header('content-type') ?? '');
  for (const [name, value] of Object.entries(DOCUMENT_HEADERS)) {
    assert.equal(res.header(name), data ? undefined : value, `${what}: ${name} (${data ? 'data' : 'document'})`);
  }
  // The request id goes out with errors, where a user quotes it (log.requestIdHeader: 'errors').
  const id = res.header('x-request-id');
  if (res.status >= 400) assert.ok(id !== undefined && id.length > 0, `${what}: x-request-id`);
  else assert.equal(id, undefined, `${what}: no x-request-id on a success by default`);
}

function get(target: string, extraHeaders = 'Host: 127.0.0.1\r\n'): string {
  return `GET ${target} HTTP/1.1\r\n${extraHeaders}Connection: close\r\n\r\n`;
}

describe('hostile request targets over a raw socket', () => {
  const targets: ReadonlyArray<readonly [string, string]> = [
    ['/a/../b', 'a dot-dot segment'],
    ['/a/./b', 'a dot segment'],
    ['/..', 'a trailing dot-dot'],
    ['/%2e%2e/b', 'an encoded dot-dot'],
    ['/a/%2E%2E/b', 'an upper-case encoded dot-dot'],
    ['/files/..%2f..%2fetc%2fpasswd', 'encoded slashes with dot-dots'],
    ['/a%2fb', 'an encoded slash'],
    ['/a%5cb', 'an encoded backslash'],
    ['/a\\b', 'a backslash'],
    ['/files/..\\..\\secret', 'backslash traversal'],
    ['/%c0%ae%c0%ae/b', 'overlong UTF-8 dots'],
    ['/x/%c0%af', 'an overlong UTF-8 slash'],
    ['/x/%ff', 'invalid UTF-8'],
    ['/x/%zz', 'broken percent-encoding'],
    ['/x/%00', 'an encoded NUL'],
    ['http://evil.example/b', 'absolute-form naming another host'],
  ];
  for (const [target, what] of targets) {
    it(`answers 400 with a JSON body, never 500, to ${what} (${target})`, async (t) => {
      const c = await connect(t, 'server', hostileApp());
      const res = await rawRequest(c.port ?? 0, get(target));
      assert.equal(res.status, 400, res.raw);
      assert.match(res.header('content-type') ?? '', /^application\/json/);
      const body = JSON.parse(res.body) as ErrorBody;
      assert.equal(body.error.status, 400);
      assert.match(body.error.code, /^VIAL_ERR_BAD_(PATH|TARGET)$/);
      assertSecurityHeaders(res, target);
    });
  }

  // These never reach the app: Node's HTTP parser refuses them and writes a bare 400 itself.
  const parserRefused: ReadonlyArray<readonly [string, string]> = [
    [get('127.0.0.1:80'), 'an authority-form target'],
    [get('b'), 'a target without a leading slash'],
    ['GET /b HTTP/1.1\r\nConnection: close\r\n\r\n', 'an HTTP/1.1 request without Host'],
    ['GET /b c HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'a space in the target'],
  ];
  for (const [request, what] of parserRefused) {
    it(`answers 400, never 500, to ${what}`, async (t) => {
      const c = await connect(t, 'server', hostileApp());
      const res = await rawRequest(c.port ?? 0, request);
      assert.equal(res.status, 400, res.raw);
    });
  }

  it('answers parser-level refusals with a JSON body and security headers too', async (t) => {
    const c = await connect(t, 'server', hostileApp());
    const res = await rawRequest(c.port ?? 0, get('b'));
    assert.equal(res.status, 400);
    assert.match(res.header('content-type') ?? '', /^application\/json/);
    assertSecurityHeaders(res, 'parser refusal');
  });

  it('answers 400 with a JSON body to two Host headers', async (t) => {
    const c = await connect(t, 'server', hostileApp());
    const res = await rawRequest(c.port ?? 0, get('/b', 'Host: 127.0.0.1\r\nHost: evil.example\r\n'));
    assert.equal(res.status, 400);
    assert.equal((JSON.parse(res.body) as ErrorBody).error.code, 'VIAL_ERR_BAD_HOST');
    assertSecurityHeaders(res, 'two hosts');
  });

  it('routes an absolute-form target that names its own Host', async (t) => {
    const c = await connect(t, 'server', hostileApp());
    const res = await rawRequest(c.port ?? 0, get('http://127.0.0.1/a/b'));
    assert.equal(res.status, 200);
    assert.equal(res.body, 'a/b');
  });

  it('still serves ordinary paths that contain dots and encoded characters', async (t) => {
    const c = await connect(t, 'server', hostileApp());
    for (const [target, name] of [['/x/file.txt', 'file.txt'], ['/x/...', '...'], ['/x/a%20b', 'a b'], ['/x/%C3%A9', 'é'], ['/x/.hidden', '.hidden']] as const) {
      const res = await rawRequest(c.port ?? 0, get(target));
      assert.equal(res.status, 200, `${target}: ${res.raw}`);
      assert.deepEqual(JSON.parse(res.body), { name }, target);
    }
  });
});

function withRoutes(app: ReturnType<typeof makeApp>): ReturnType<typeof makeApp> {
  app.get('/ok', () => 'ok');
  return app;
}

both('security headers and request ids', (mode) => {
  it('are on every response: success, 204, redirect, 404, 405, 413, handled and unhandled errors', async (t) => {
    const app = makeApp();
    app.get('/ok', () => 'ok');
    app.get('/none', () => null);
    app.get('/r', () => redirect('/ok'));
    app.get('/teapot', () => abort(418));
    app.get('/crash', () => {
      throw new Error('x');
    });
    app.post('/body', { maxBodyBytes: 1 }, async (ctx) => ctx.request.text());
    app.errorHandler(418, () => 'handled');
    const c = await connect(t, mode, app);
    const cases: Array<[string, Promise<Reply>, number]> = [
      ['ok', c.get('/ok'), 200],
      ['204', c.get('/none'), 204],
      ['redirect', c.get('/r'), 302],
      ['404', c.get('/missing'), 404],
      ['405', c.post('/ok'), 405],
      ['OPTIONS', c.options('/ok'), 204],
      ['HEAD', c.head('/ok'), 200],
      ['413', c.post('/body', { body: 'too long' }), 413],
      ['handled', c.get('/teapot'), 418],
      ['500', c.get('/crash'), 500],
    ];
    for (const [what, pending, status] of cases) {
      const res = await pending;
      assert.equal(res.status, status, what);
      assertSecurityHeaders(res, what);
    }
  });

  it('sends the document-only headers on HTML and text, not on JSON', async (t) => {
    const app = makeApp();
    app.get('/page', () => '<p>hi</p>');
    app.get('/data', () => ({ a: 1 }));
    app.get('/problem', () => new Response('{}', { headers: { 'content-type': 'application/problem+json' } }));
    app.get('/text', () => new Response('hi', { headers: { 'content-type': 'text/plain' } }));
    const c = await connect(t, mode, app);
    for (const [path, document] of [['/page', true], ['/data', false], ['/problem', false], ['/text', true]] as const) {
      const res = await c.get(path);
      assert.equal(res.header('x-frame-options'), document ? 'DENY' : undefined, path);
      assert.equal(res.header('referrer-policy'), document ? 'strict-origin-when-cross-origin' : undefined, path);
      assert.equal(res.header('content-security-policy'), "frame-ancestors 'none'", path);
      assert.equal(res.header('x-content-type-options'), 'nosniff', path);
    }
  });

  it('sends x-request-id on every response with log.requestIdHeader always, on none with never', async (t) => {
    const always = await connect(t, mode, withRoutes(makeApp({ log: { requestIdHeader: 'always' } })));
    const never = await connect(t, mode, withRoutes(makeApp({ log: { requestIdHeader: 'never' } })));
    assert.ok(((await always.get('/ok')).header('x-request-id') ?? '').length > 0);
    assert.ok(((await always.get('/missing')).header('x-request-id') ?? '').length > 0);
    assert.equal((await never.get('/ok')).header('x-request-id'), undefined);
    assert.equal((await never.get('/missing')).header('x-request-id'), undefined);
  });

  it('lets a handler override a security header on purpose', async (t) => {
    const app = makeApp();
    app.get('/embed', () => new Response('embeddable', { headers: { 'x-frame-options': 'SAMEORIGIN', 'content-type': 'text/plain' } }));
    const c = await connect(t, mode, app);
    const res = await c.get('/embed');
    assert.equal(res.header('x-frame-options'), 'SAMEORIGIN');
    assert.equal(res.header('x-content-type-options'), 'nosniff');
  });
});
