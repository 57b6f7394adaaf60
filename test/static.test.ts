import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { ConfigError } from '../src/index.ts';
import { staticFiles } from '../src/static/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';

let dir = '';
let outside = '';
const CSS = 'body { color: red; }\n'.repeat(50);
const BIG = Buffer.alloc(3 * 1024 * 1024, 'x');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vial-static-'));
  outside = mkdtempSync(join(tmpdir(), 'vial-outside-'));
  writeFileSync(join(outside, 'secret.txt'), 'secret');
  writeFileSync(join(dir, 'index.html'), '<h1>home</h1>');
  writeFileSync(join(dir, 'app.css'), CSS);
  writeFileSync(join(dir, 'app.css.br'), brotliCompressSync(CSS));
  writeFileSync(join(dir, 'app.css.gz'), gzipSync(CSS));
  writeFileSync(join(dir, 'app.3f9a1c2e.js'), 'console.log(1)');
  writeFileSync(join(dir, 'digits.txt'), '0123456789');
  writeFileSync(join(dir, 'big.bin'), BIG);
  writeFileSync(join(dir, '.env'), 'SECRET=1');
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs', 'index.html'), '<h1>docs</h1>');
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, '.git', 'config'), '[core]');
  symlinkSync(join(outside, 'secret.txt'), join(dir, 'link.txt'));
  const old = new Date('2024-01-01T00:00:00Z');
  utimesSync(join(dir, 'digits.txt'), old, old);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function staticApp(): ReturnType<typeof makeApp> {
  const app = makeApp();
  app.plugin(staticFiles('/assets', dir));
  return app;
}

both('static files', (mode) => {
  it('serves files with their type, a strong ETag and Last-Modified, and index.html for folders', async (t) => {
    const c = await connect(t, mode, staticApp());
    const file = await c.get('/assets/digits.txt');
    assert.equal(file.status, 200);
    assert.equal(file.text, '0123456789');
    assert.equal(file.header('content-type'), 'text/plain; charset=utf-8');
    assert.match(file.header('etag') ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(file.header('last-modified'), 'Mon, 01 Jan 2024 00:00:00 GMT');
    assert.equal(file.header('cache-control'), 'public, max-age=0');
    assert.equal((await c.get('/assets/')).text, '<h1>home</h1>');
    assert.equal((await c.get('/assets/docs/')).text, '<h1>docs</h1>');
    const bare = await c.get('/assets/docs?x=1');
    assert.equal(bare.status, 301);
    assert.equal(bare.header('location'), '/assets/docs/?x=1');
    const head = await c.head('/assets/digits.txt');
    assert.equal(head.status, 200);
    assert.equal(head.header('content-length'), '10');
    assert.equal(head.text, '');
  });

  it('refuses dotfiles, traversal and symlinks out of the folder', async (t) => {
    const c = await connect(t, mode, staticApp());
    for (const path of ['/assets/.env', '/assets/.git/config', '/assets/link.txt', '/assets/nope.txt']) {
      assert.equal((await c.get(path)).status, 404, path);
    }
    for (const path of ['/assets/../secret.txt', '/assets/%2e%2e/%2e%2e/etc/passwd', '/assets/docs%2F..%2F.env', '/assets/..%5c.env']) {
      const reply = await c.get(path);
      assert.ok(reply.status === 400 || reply.status === 404, `${path}: ${reply.status}`);
      assert.doesNotMatch(reply.text, /SECRET|secret|core/);
    }
  });

  it('answers 304 to If-None-Match and If-Modified-Since, and 412 to a failed If-Match', async (t) => {
    const c = await connect(t, mode, staticApp());
    const first = await c.get('/assets/digits.txt');
    const etag = first.header('etag') ?? '';
    const again = await c.get('/assets/digits.txt', { headers: { 'if-none-match': `"other", ${etag}` } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal(again.header('etag'), etag);
    assert.equal((await c.get('/assets/digits.txt', { headers: { 'if-modified-since': 'Tue, 02 Jan 2024 00:00:00 GMT' } })).status, 304);
    assert.equal((await c.get('/assets/digits.txt', { headers: { 'if-modified-since': 'Sun, 31 Dec 2023 00:00:00 GMT' } })).status, 200);
    assert.equal((await c.get('/assets/digits.txt', { headers: { 'if-match': '"stale"' } })).status, 412);
    assert.equal((await c.get('/assets/digits.txt', { headers: { 'if-match': etag } })).status, 200);
  });

  it('serves single byte ranges, honours If-Range, and answers 416 past the end', async (t) => {
    const c = await connect(t, mode, staticApp());
    const part = await c.get('/assets/digits.txt', { headers: { range: 'bytes=2-4' } });
    assert.equal(part.status, 206);
    assert.equal(part.text, '234');
    assert.equal(part.header('content-range'), 'bytes 2-4/10');
    assert.equal((await c.get('/assets/digits.txt', { headers: { range: 'bytes=-3' } })).text, '789');
    assert.equal((await c.get('/assets/digits.txt', { headers: { range: 'bytes=7-' } })).text, '789');
    const beyond = await c.get('/assets/digits.txt', { headers: { range: 'bytes=10-' } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.header('content-range'), 'bytes */10');
    const etag = part.header('etag') ?? '';
    assert.equal((await c.get('/assets/digits.txt', { headers: { range: 'bytes=0-0', 'if-range': etag } })).status, 206);
    const changed = await c.get('/assets/digits.txt', { headers: { range: 'bytes=0-0', 'if-range': '"old"' } });
    assert.equal(changed.status, 200);
    assert.equal(changed.text, '0123456789');
    assert.equal((await c.get('/assets/digits.txt', { headers: { range: 'bytes=0-1,4-5' } })).status, 200, 'several ranges: the whole file');
  });

  it('sends a precompressed sibling the client accepts, with Vary and its own ETag', async (t) => {
    const c = await connect(t, mode, staticApp());
    const br = await c.get('/assets/app.css', { headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(br.header('content-encoding'), 'br');
    assert.equal(br.header('content-type'), 'text/css; charset=utf-8');
    assert.equal(br.header('vary'), 'Accept-Encoding');
    const gz = await c.get('/assets/app.css', { headers: { 'accept-encoding': 'gzip, br;q=0' } });
    assert.equal(gz.header('content-encoding'), 'gzip');
    assert.notEqual(gz.header('etag'), br.header('etag'));
    const plain = await c.get('/assets/app.css');
    assert.equal(plain.header('content-encoding'), undefined);
    assert.equal(plain.text, CSS);
    assert.equal(plain.header('vary'), 'Accept-Encoding');
  });

  it('caches fingerprinted names as immutable for a year', async (t) => {
    const c = await connect(t, mode, staticApp());
    assert.equal((await c.get('/assets/app.3f9a1c2e.js')).header('cache-control'), 'public, max-age=31536000, immutable');
  });
});

it('decodes the gzip sibling to the original over a real socket', async (t) => {
  const c = await connect(t, 'server', staticApp());
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    httpRequest(`${c.url}/assets/app.css`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject).end();
  });
  assert.equal(gunzipSync(bytes).toString(), CSS);
});

it('streams a large file with backpressure and bounds the files open at once', async (t) => {
  const app = makeApp();
  app.plugin(staticFiles('/assets', dir, { maxOpenFiles: 1 }));
  const c = await connect(t, 'server', app);
  // A reader that pauses: the first response stays open (its file too) until it is resumed.
  const slow = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    httpRequest(`${c.url}/assets/big.bin`, (res) => resolve(res)).on('error', reject).end();
  });
  slow.pause();
  const busy = await c.get('/assets/digits.txt');
  assert.equal(busy.status, 503);
  assert.equal(busy.header('retry-after'), '1');
  let received = 0;
  slow.on('data', (d: Buffer) => (received += d.length));
  await new Promise((resolve) => slow.on('end', resolve).resume());
  assert.equal(received, BIG.length);
  assert.equal((await c.get('/assets/digits.txt')).status, 200, 'the slot came back');
  assert.equal((await c.head('/assets/digits.txt')).status, 200);
  assert.equal((await c.get('/assets/digits.txt')).status, 200, 'a HEAD gives its slot back too');
});

it('checks its options at registration', () => {
  assert.throws(() => staticFiles('assets', dir), (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_STATIC');
  assert.throws(() => staticFiles('/assets', 'relative/dir'), /absolute path/);
  assert.throws(() => staticFiles('/assets/', dir), /does not end/);
});
