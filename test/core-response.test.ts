import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { HttpError, VialResponse, html, json, raw, redirect, sendFile, sse } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';
import { rawRequest } from './helpers/raw.ts';

const STATIC_ROOT = fileURLToPath(new URL('./fixtures/core/static/', import.meta.url));

both('responses', (mode) => {
  it('turns a string into text/html, an object into JSON and null into 204', async (t) => {
    const app = makeApp();
    app.get('/s', () => '<p>hi</p>');
    app.get('/o', () => ({ a: 1, list: [true, null] }));
    app.get('/arr', () => [1, 2]);
    app.get('/n', () => null);
    app.get('/u', () => undefined);
    const c = await connect(t, mode, app);
    const s = await c.get('/s');
    assert.equal(s.header('content-type'), 'text/html; charset=utf-8');
    assert.equal(s.text, '<p>hi</p>');
    const o = await c.get('/o');
    assert.equal(o.header('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(o.json(), { a: 1, list: [true, null] });
    assert.deepEqual((await c.get('/arr')).json(), [1, 2]);
    for (const path of ['/n', '/u']) {
      const empty = await c.get(path);
      assert.equal(empty.status, 204);
      assert.equal(empty.text, '');
    }
  });

  it('sends a fetch Response with its status, headers and every Set-Cookie', async (t) => {
    const app = makeApp();
    app.get('/r', () => {
      const headers = new Headers({ 'content-type': 'text/plain', 'x-extra': 'yes' });
      headers.append('set-cookie', 'a=1; Path=/');
      headers.append('set-cookie', 'b=2; Path=/; HttpOnly');
      return new Response('created', { status: 201, headers });
    });
    const c = await connect(t, mode, app);
    const res = await c.get('/r');
    assert.equal(res.status, 201);
    assert.equal(res.text, 'created');
    assert.equal(res.header('x-extra'), 'yes');
    assert.equal(res.header('content-type'), 'text/plain');
    assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
  });

  it('sends a VialResponse and bytes as they are', async (t) => {
    const app = makeApp();
    app.get('/v', () => new VialResponse('teapot', 418, { 'content-type': 'text/plain' }).appendHeader('set-cookie', 'x=1').appendHeader('set-cookie', 'y=2'));
    app.get('/b', () => new Uint8Array([104, 105]));
    const c = await connect(t, mode, app);
    const v = await c.get('/v');
    assert.equal(v.status, 418);
    assert.equal(v.text, 'teapot');
    assert.deepEqual(v.headers['set-cookie'], ['x=1', 'y=2']);
    const b = await c.get('/b');
    assert.equal(b.header('content-type'), 'application/octet-stream');
    assert.equal(b.text, 'hi');
  });

  it('streams an async iterable in order', async (t) => {
    const app = makeApp();
    app.get('/stream', async function* () {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        yield `part${i};`;
      }
      yield new TextEncoder().encode('bytes');
    });
    const c = await connect(t, mode, app);
    const res = await c.get('/stream');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'part0;part1;part2;part3;part4;bytes');
  });

  it('builds JSON responses with json() and a status', async (t) => {
    const app = makeApp();
    app.post('/items', () => json({ id: 7 }, { status: 201, headers: { location: '/items/7' } }));
    const c = await connect(t, mode, app);
    const res = await c.post('/items');
    assert.equal(res.status, 201);
    assert.equal(res.header('location'), '/items/7');
    assert.deepEqual(res.json(), { id: 7 });
  });

  it('redirects to same-site paths and refuses open redirects with 400', async (t) => {
    const app = makeApp();
    app.get('/go', (ctx) => redirect(ctx.query.get('next') ?? '/'));
    app.get('/go301', () => redirect('/moved?x=1#frag', 301));
    app.get('/out', () => redirect('https://partner.example/path', { allowExternal: true, status: 303 }));
    const c = await connect(t, mode, app);
    const ok = await c.get('/go', { query: { next: '/dashboard?tab=1' } });
    assert.equal(ok.status, 302);
    assert.equal(ok.header('location'), '/dashboard?tab=1');
    const moved = await c.get('/go301');
    assert.equal(moved.status, 301);
    assert.equal(moved.header('location'), '/moved?x=1#frag');
    const unicode = await c.get('/go', { query: { next: '/caf\u00e9 menu' } });
    assert.equal(unicode.header('location'), '/caf%C3%A9%20menu');
    // Browsers strip tabs and newlines from URLs: an encoded tab must stay encoded.
    const tab = await c.get('/go', { query: { next: '/\t/evil.com' } });
    assert.equal(tab.header('location'), '/%09/evil.com');
    for (const next of ['//evil.com', 'https://evil.com', '/\\evil.com', 'http:evil.com', 'javascript:alert(1)', '/ok\r\nSet-Cookie: x=1', '/ok\nx', 'evil.com']) {
      const res = await c.get('/go', { query: { next } });
      assert.equal(res.status, 400, `next=${JSON.stringify(next)}`);
      assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_OPEN_REDIRECT');
      assert.equal(res.header('location'), undefined);
      assert.equal(res.header('set-cookie'), undefined);
    }
    const out = await c.get('/out');
    assert.equal(out.status, 303);
    assert.equal(out.header('location'), 'https://partner.example/path');
  });

  it('serves files from the root and answers 404 for anything outside it', async (t) => {
    const app = makeApp();
    app.get('/static/<path:file>', (ctx) => sendFile(ctx.params['file'], { root: STATIC_ROOT, maxAgeSec: 60 }));
    const c = await connect(t, mode, app);
    const hello = await c.get('/static/hello.txt');
    assert.equal(hello.status, 200);
    assert.equal(hello.text, 'hello from a file\n');
    assert.equal(hello.header('content-type'), 'text/plain; charset=utf-8');
    assert.equal(hello.header('content-length'), String('hello from a file\n'.length));
    assert.equal(hello.header('cache-control'), 'public, max-age=60');
    assert.deepEqual((await c.get('/static/sub/data.json')).json(), { nested: true });
    const head = await c.head('/static/hello.txt');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await c.get('/static/missing.txt')).status, 404);
    assert.equal((await c.get('/static/sub')).status, 404);
    for (const path of ['/static/../secret.txt', '/static/%2e%2e/secret.txt', '/static/sub/..%2f..%2fsecret.txt', '/static//etc/passwd', '/static/%2Fetc%2Fpasswd']) {
      const res = await c.get(path);
      assert.ok(res.status === 404 || res.status === 400, `${path} gave ${res.status}`);
      assert.ok(!res.text.includes('TOP SECRET') && !res.text.includes('root:'), `${path} leaked a file`);
    }
  });

  it('frames server-sent events with event, id and multi-line data', async (t) => {
    const app = makeApp();
    app.get('/events', () =>
      sse(
        (async function* () {
          await Promise.resolve();
          yield { event: 'greeting', id: '1', data: 'hello' };
          yield { data: 'line one\nline two\r\nline three' };
          yield { event: 'obj\nsplit', data: { n: 2 } };
          yield 'plain';
        })(),
        { retryMs: 1500 },
      ),
    );
    const c = await connect(t, mode, app);
    const res = await c.get('/events');
    assert.equal(res.header('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(res.header('cache-control'), 'no-cache');
    assert.equal(
      res.text,
      'retry: 1500\n\n' +
        'event: greeting\nid: 1\ndata: hello\n\n' +
        'data: line one\ndata: line two\ndata: line three\n\n' +
        'event: obj split\ndata: {"n":2}\n\n' +
        'data: plain\n\n',
    );
  });

  it('renders html templates with escaping, safe fragments and arrays', async (t) => {
    const app = makeApp();
    app.get('/page', (ctx) => {
      const name = ctx.query.get('name') ?? '';
      const items = ['<a>', 'b&c'].map((item) => html`<li>${item}</li>`);
      return html`<p title="${name}" data-x='${name}'>${name}</p><ul>${items}</ul>${raw('<hr>')}${null}${false}${0}`;
    });
    const c = await connect(t, mode, app);
    const res = await c.get('/page', { query: { name: `"><script>alert('x')</script>\`` } });
    assert.equal(res.header('content-type'), 'text/html; charset=utf-8');
    const escaped = '&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#96;';
    assert.equal(res.text, `<p title="${escaped}" data-x='${escaped}'>${escaped}</p><ul><li>&lt;a&gt;</li><li>b&amp;c</li></ul><hr>0`);
  });
});

describe('sendFile on its own', () => {
  it('refuses traversal, encoded traversal, absolute paths and NUL with 404', async () => {
    for (const path of ['../secret.txt', 'sub/../../secret.txt', '..\\secret.txt', '%2e%2e/secret.txt', '/etc/passwd', 'hello.txt\0.png', '', '.']) {
      await assert.rejects(sendFile(path, { root: STATIC_ROOT }), (e: unknown) => e instanceof HttpError && e.status === 404, `path ${JSON.stringify(path)}`);
    }
  });

  it('needs an absolute root', async () => {
    await assert.rejects(sendFile('hello.txt', { root: 'test/fixtures/core/static' }), { code: 'VIAL_ERR_SEND_FILE' });
  });

  it('reads a path that merely starts with dots inside the root', async () => {
    const res = await sendFile('sub/../hello.txt', { root: STATIC_ROOT });
    assert.equal(res.status, 200);
    (res.body as NodeJS.ReadableStream & { destroy(): void }).destroy();
  });
});

describe('streaming to a client that leaves', () => {
  it('stops the stream and runs the generator finally block when the client disconnects', async (t) => {
    const app = makeApp();
    let produced = 0;
    let resolveCleanup: (value: number) => void = () => undefined;
    const cleanedUp = new Promise<number>((resolve) => (resolveCleanup = resolve));
    app.get('/forever', async function* () {
      try {
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          produced++;
          yield `tick ${produced}\n`;
        }
      } finally {
        resolveCleanup(produced);
      }
    });
    const c = await connect(t, 'server', app);
    const { connect: netConnect } = await import('node:net');
    const socket = netConnect(c.port ?? 0, '127.0.0.1');
    t.after(() => socket.destroy());
    socket.on('error', () => undefined);
    socket.write('GET /forever HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.destroy();
    const timeout = new Promise<'still running'>((resolve) => {
      const timer = setTimeout(() => resolve('still running'), 5000);
      t.after(() => clearTimeout(timer));
    });
    const result = await Promise.race([cleanedUp, timeout]);
    assert.equal(typeof result, 'number', 'the generator finally block ran');
    const stoppedAt = produced;
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(produced, stoppedAt, 'no values are produced after the client left');
  });

  it('does not send a body for HEAD on a streaming route', async (t) => {
    const app = makeApp();
    app.get('/stream', async function* () {
      await Promise.resolve();
      yield 'never seen';
    });
    const c = await connect(t, 'server', app);
    const res = await rawRequest(c.port ?? 0, 'HEAD /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(res.status, 200);
    assert.ok(!res.raw.includes('never seen'));
  });
});
