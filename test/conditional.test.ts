import { it } from 'node:test';
import assert from 'node:assert/strict';
import { json, sse } from '../src/index.ts';
import { checkPreconditions } from '../src/conditional/index.ts';
import { evaluatePreconditions, parseRange } from '../src/conditional/validators.ts';
import { both, connect, makeApp } from './helpers/both.ts';

function app(): { app: ReturnType<typeof makeApp>; doc: { version: number } } {
  const doc = { version: 1 };
  // Every body gets an ETag here (the default skips replies under 1 KiB).
  const a = makeApp({ conditional: { minBytes: 0 } });
  a.get('/doc', () => ({ version: doc.version, text: 'x'.repeat(100) }));
  a.get('/dated', () => json({ ok: true }, { headers: { 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' } }));
  a.get('/live', { etag: false }, () => ({ now: doc.version }));
  a.get('/stream', () => sse((async function* () { await Promise.resolve(); yield 'a'; })()));
  a.put('/doc', (ctx) => {
    checkPreconditions(ctx, { etag: `"v${doc.version}"` });
    doc.version++;
    return { version: doc.version };
  });
  return { app: a, doc };
}

both('the conditional plugin', (mode) => {
  it('gives buffered GET replies a weak ETag and answers 304 while they are unchanged', async (t) => {
    const { app: a, doc } = app();
    const c = await connect(t, mode, a);
    const first = await c.get('/doc');
    const etag = first.header('etag') ?? '';
    assert.match(etag, /^W\/"[0-9a-f]+-[\w-]{22}"$/);
    const again = await c.get('/doc', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal(again.header('content-type'), undefined);
    assert.equal(again.header('etag'), etag);
    assert.equal((await c.get('/doc', { headers: { 'if-none-match': etag.slice(2) } })).status, 304, 'weak comparison');
    doc.version++;
    assert.equal((await c.get('/doc', { headers: { 'if-none-match': etag } })).status, 200);
  });

  it('evaluates a Last-Modified the handler set, and leaves opted-out routes and streams alone', async (t) => {
    const { app: a } = app();
    const c = await connect(t, mode, a);
    assert.equal((await c.get('/dated', { headers: { 'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' } })).status, 304);
    assert.equal((await c.get('/live')).header('etag'), undefined);
    assert.equal((await c.get('/stream')).header('etag'), undefined);
  });

  it('refuses a lost update with 412 before the handler changes anything', async (t) => {
    const { app: a, doc } = app();
    const c = await connect(t, mode, a);
    assert.equal((await c.request('PUT', '/doc', { json: {}, headers: { 'if-match': '"v1"' } })).status, 200);
    const stale = await c.request('PUT', '/doc', { json: {}, headers: { 'if-match': '"v1"' } });
    assert.equal(stale.status, 412);
    assert.equal(stale.json<{ error: { code: string } }>().error.code, 'VIAL_ERR_HTTP_412');
    assert.equal(doc.version, 2);
  });
});

it('follows the precondition order of RFC 9110 §13.2.2', () => {
  const v = { etag: '"a"', lastModified: new Date('2024-01-01T00:00:00Z') };
  assert.equal(evaluatePreconditions('GET', { 'if-match': '"b"', 'if-none-match': '"a"' }, v), 412, 'If-Match first');
  assert.equal(evaluatePreconditions('GET', { 'if-none-match': '"b"', 'if-modified-since': 'Tue, 02 Jan 2024 00:00:00 GMT' }, v), 'ok', 'If-None-Match wins over If-Modified-Since');
  assert.equal(evaluatePreconditions('PUT', { 'if-none-match': '*' }, v), 412);
  assert.equal(evaluatePreconditions('PUT', { 'if-match': 'W/"a"' }, v), 412, 'If-Match compares strongly');
  assert.equal(evaluatePreconditions('PUT', { 'if-unmodified-since': 'Sun, 31 Dec 2023 00:00:00 GMT' }, v), 412);
  assert.equal(evaluatePreconditions('GET', { 'if-modified-since': 'not a date' }, v), 'ok');
  assert.deepEqual(parseRange('bytes=0-', 0), 'unsatisfiable');
  assert.deepEqual(parseRange('bytes=5-2', 10), undefined);
  assert.deepEqual(parseRange('items=0-1', 10), undefined);
  assert.deepEqual(parseRange('bytes=0-99', 10), { start: 0, end: 9 });
});
