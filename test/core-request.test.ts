import { it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';

const BOUNDARY = '----vialTestBoundary7MA4YWxkTrZu0gW';

/** A multipart/form-data body with text fields and one file, framed as RFC 7578 describes. */
function multipart(fields: Record<string, string>, file?: { field: string; filename: string; type: string; content: Buffer }): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  if (file !== undefined) {
    parts.push(
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\nContent-Type: ${file.type}\r\n\r\n`),
      file.content,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}
const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

both('request', (mode) => {
  it('exposes method, path, query with repeated keys, and the full url', async (t) => {
    const app = makeApp();
    app.route(['GET', 'POST'], '/search', (ctx) => ({
      method: ctx.request.method,
      path: ctx.request.path,
      url: ctx.request.url,
      q: ctx.query.get('q'),
      tags: ctx.query.getAll('tag'),
      missing: ctx.query.get('missing'),
    }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/search?q=a%20b&tag=x&tag=y')).json(), {
      method: 'GET',
      path: '/search',
      url: '/search?q=a%20b&tag=x&tag=y',
      q: 'a b',
      tags: ['x', 'y'],
      missing: null,
    });
    assert.equal((await c.post('/search', { query: { q: 'posted' } })).json<{ q: string }>().q, 'posted');
  });

  it('reads headers case-insensitively', async (t) => {
    const app = makeApp();
    app.get('/h', (ctx) => ({ custom: ctx.request.header('X-Custom'), lower: ctx.request.headers['x-custom'], none: ctx.request.header('x-none') ?? null }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/h', { headers: { 'X-Custom': 'v1' } })).json(), { custom: 'v1', lower: 'v1', none: null });
  });

  it('parses cookies, skipping malformed pairs and keeping the first of duplicated names', async (t) => {
    const app = makeApp();
    app.get('/c', (ctx) => ({ cookies: { ...ctx.request.cookies }, duplicates: [...ctx.request.duplicateCookies] }));
    const c = await connect(t, mode, app);
    const res = await c.get('/c', { headers: { cookie: 'a=1; broken; b=two; a=3; q="quoted"; sp=x y; =noname; c=%20ok' } });
    assert.deepEqual(res.json(), { cookies: { a: '1', b: 'two', q: 'quoted', c: '%20ok' }, duplicates: ['a'] });
    assert.deepEqual((await c.get('/c')).json(), { cookies: {}, duplicates: [] });
  });

  it('reads a JSON body', async (t) => {
    const app = makeApp();
    app.post('/j', async (ctx) => ({ got: await ctx.request.json() }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.post('/j', { json: { a: [1, 2], b: { c: 'ü' } } })).json(), { got: { a: [1, 2], b: { c: 'ü' } } });
    const vendor = await c.post('/j', { body: '{"x":1}', headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' } });
    assert.deepEqual(vendor.json(), { got: { x: 1 } });
  });

  it('reads text and bytes, and lets json() reuse a body already read', async (t) => {
    const app = makeApp();
    app.post('/t', async (ctx) => ({ text: await ctx.request.text(), json: await ctx.request.json(), bytes: (await ctx.request.bytes()).length }));
    app.post('/b', async (ctx) => ({ bytes: [...(await ctx.request.bytes())] }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.post('/t', { body: '[1,"é"]', headers: { 'content-type': 'application/json' } })).json(), { text: '[1,"é"]', json: [1, 'é'], bytes: 8 });
    assert.deepEqual((await c.post('/b', { body: Buffer.from([0, 255, 7]), headers: { 'content-type': 'application/octet-stream' } })).json(), { bytes: [0, 255, 7] });
  });

  it('reads an urlencoded form with repeated fields', async (t) => {
    const app = makeApp();
    app.post('/f', async (ctx) => {
      const form = await ctx.request.form();
      return { name: form.get('name'), colours: form.getAll('c'), object: form.toObject(), files: form.files.length };
    });
    const c = await connect(t, mode, app);
    const res = await c.post('/f', { body: 'name=Ada+L&c=red&c=blue', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual(res.json(), { name: 'Ada L', colours: ['red', 'blue'], object: { name: 'Ada L', c: 'blue' }, files: 0 });
  });

  it('reads a multipart form with a file', async (t) => {
    const app = makeApp();
    app.post('/upload', async (ctx) => {
      const form = await ctx.request.form();
      const file = form.file('doc');
      return { title: form.get('title'), filename: file?.filename, type: file?.mimeType, content: file?.bytes.toString('utf8'), size: file?.bytes.length };
    });
    const c = await connect(t, mode, app);
    const content = Buffer.from('line one\r\n--not a boundary\r\nüñí');
    const body = multipart({ title: 'Report' }, { field: 'doc', filename: 'r.txt', type: 'text/plain', content });
    const res = await c.post('/upload', { body, headers: { 'content-type': MULTIPART_TYPE } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { title: 'Report', filename: 'r.txt', type: 'text/plain', content: content.toString('utf8'), size: content.length });
  });

  it('refuses a multipart file over maxFileBytes with 413 and a malformed multipart body with 400', async (t) => {
    const app = makeApp({ body: { maxFileBytes: 16 } });
    app.post('/upload', async (ctx) => ({ files: (await ctx.request.form()).files.length }));
    const c = await connect(t, mode, app);
    const big = multipart({}, { field: 'doc', filename: 'big.bin', type: 'application/octet-stream', content: Buffer.alloc(17, 1) });
    const tooBig = await c.post('/upload', { body: big, headers: { 'content-type': MULTIPART_TYPE } });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.json<ErrorBody>().error.code, 'VIAL_ERR_FILE_TOO_LARGE');
    const noBoundary = await c.post('/upload', { body: 'x', headers: { 'content-type': 'multipart/form-data' } });
    assert.equal(noBoundary.status, 400);
    assert.equal(noBoundary.json<ErrorBody>().error.code, 'VIAL_ERR_MALFORMED_MULTIPART');
  });

  it('answers 415 when the body has the wrong content type', async (t) => {
    const app = makeApp();
    app.post('/j', async (ctx) => ctx.request.json<object>());
    app.post('/f', async (ctx) => (await ctx.request.form()).toObject());
    const c = await connect(t, mode, app);
    for (const [path, type] of [['/j', 'text/plain'], ['/j', 'application/x-www-form-urlencoded'], ['/f', 'application/json']] as const) {
      const res = await c.post(path, { body: '{}', headers: { 'content-type': type } });
      assert.equal(res.status, 415, `${path} with ${type}`);
      assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_UNSUPPORTED_MEDIA_TYPE');
    }
    const untyped = await c.post('/j', { body: '{}' });
    assert.equal(untyped.status, 415);
  });
});

it('passes repeated request headers through as Node joins them (real server)', async (t) => {
  const app = makeApp();
  app.get('/h', (ctx) => ({ first: ctx.request.header('x-multi'), all: ctx.request.headers['x-multi'] }));
  const c = await connect(t, 'server', app);
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: c.port, path: '/h', headers: { 'x-multi': ['a', 'b'] } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  assert.deepEqual(JSON.parse(body), { first: 'a, b', all: 'a, b' });
});
