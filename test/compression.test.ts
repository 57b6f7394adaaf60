import { it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import { ConfigError, json, sse, VialResponse } from '../src/index.ts';
import { compression, ZSTD_AVAILABLE } from '../src/compression/index.ts';
import { chooseEncoding } from '../src/compression/negotiate.ts';
import { connect, makeApp } from './helpers/both.ts';

const rows = Array.from({ length: 500 }, (_, i) => ({ id: i, name: `user ${i}`, email: `user${i}@example.com` }));

function compressApp(): ReturnType<typeof makeApp> {
  // On by default: this is the app every user gets.
  const app = makeApp();
  app.get('/rows', () => ({ rows }));
  app.get('/small', () => ({ ok: true }));
  app.get('/png', () => new VialResponse(Buffer.alloc(5000), 200, { 'content-type': 'image/png' }));
  app.get('/raw', { compress: false }, () => ({ rows }));
  app.get('/no-transform', () => json({ rows }, { headers: { 'cache-control': 'no-transform' } }));
  app.get('/events', () =>
    sse(
      (async function* () {
        for (let i = 0; i < 3; i++) {
          yield { event: 'tick', data: { i } };
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })(),
    ),
  );
  return app;
}

interface Raw {
  readonly res: IncomingMessage;
  readonly bytes: Buffer;
}

function get(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ res, bytes: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

const decoders: Record<string, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gunzipSync(b),
  br: (b) => zlib.brotliDecompressSync(b),
  zstd: (b) => (zlib as unknown as { zstdDecompressSync: (b: Buffer) => Buffer }).zstdDecompressSync(b),
};

it('compresses a large JSON reply with the coding the client prefers, and it decodes to the original', async (t) => {
  const c = await connect(t, 'server', compressApp());
  const original = JSON.stringify({ rows });
  const cases: [string, string][] = [
    ['gzip', 'gzip'],
    ['br', 'gzip;q=0.5, br'],
    ['gzip', 'br;q=0.1, gzip;q=0.9'],
    [ZSTD_AVAILABLE ? 'zstd' : 'br', 'gzip, deflate, br, zstd'],
  ];
  for (const [expected, accept] of cases) {
    const { res, bytes } = await get(`${c.url}/rows`, { 'accept-encoding': accept });
    assert.equal(res.headers['content-encoding'], expected, accept);
    assert.equal(res.headers['vary'], 'Accept-Encoding');
    assert.equal(res.headers['content-length'], String(bytes.length), 'the compressed length');
    assert.ok(bytes.length < original.length / 4, `${expected}: ${bytes.length} bytes`);
    assert.equal((decoders[expected] as (b: Buffer) => Buffer)(bytes).toString(), original);
  }
});

it('sends identity when asked, for small bodies, compressed types, HEAD, opted-out routes and no-transform', async (t) => {
  const c = await connect(t, 'server', compressApp());
  const identity = await get(`${c.url}/rows`, { 'accept-encoding': 'identity' });
  assert.equal(identity.res.headers['content-encoding'], undefined);
  assert.equal(identity.res.headers['vary'], 'Accept-Encoding');
  assert.equal((await get(`${c.url}/rows`, { 'accept-encoding': 'gzip;q=0' })).res.headers['content-encoding'], undefined);
  for (const path of ['/small', '/png', '/raw', '/no-transform']) {
    assert.equal((await get(`${c.url}${path}`, { 'accept-encoding': 'gzip, br' })).res.headers['content-encoding'], undefined, path);
  }
  const head = await new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest(`${c.url}/rows`, { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } }, (res) => resolve(res.resume())).on('error', reject).end();
  });
  assert.equal(head.headers['content-encoding'], undefined);
});

it('compresses server-sent events as they flow, one flush per event', async (t) => {
  const c = await connect(t, 'server', compressApp());
  const { res, frames } = await new Promise<{ res: IncomingMessage; frames: string[] }>((resolve, reject) => {
    httpRequest(`${c.url}/events`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const gunzip = zlib.createGunzip();
      const frames: string[] = [];
      // Each event must decode on its own, before the stream ends: that is what the flush buys.
      gunzip.on('data', (d: Buffer) => frames.push(d.toString()));
      res.pipe(gunzip);
      gunzip.on('end', () => resolve({ res, frames }));
    })
      .on('error', reject)
      .end();
  });
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.deepEqual(frames, [0, 1, 2].map((i) => `event: tick\ndata: {"i":${i}}\n\n`));
});

it('negotiates from q-values, and refuses bad options', () => {
  assert.equal(chooseEncoding('gzip, br', ['zstd', 'br', 'gzip']), 'br');
  assert.equal(chooseEncoding('*', ['br', 'gzip']), 'br');
  assert.equal(chooseEncoding('*;q=0, gzip', ['br', 'gzip']), 'gzip');
  assert.equal(chooseEncoding('x-gzip', ['br', 'gzip']), 'gzip');
  assert.equal(chooseEncoding('identity', ['br', 'gzip']), undefined);
  assert.equal(chooseEncoding('GZIP;Q=0.5', ['br', 'gzip']), 'gzip');
  assert.throws(() => makeApp({ compression: { encodings: ['deflate' as never] } }), (e: unknown) => e instanceof ConfigError && /unknown encoding/.test(e.message));
  assert.throws(() => makeApp({ compression: { levels: { br: 12 } } }), /levels.br/);
  // On by default, so registering it again says where its options go.
  assert.throws(() => makeApp().plugin(compression, { minBytes: 10 }), /on by default\. Configure it with new Vial\(\{ compression: \{ \.\.\. \} \}\), or turn it off with \{ compression: false \}/);
  assert.doesNotThrow(() => makeApp({ compression: false }).plugin(compression, { minBytes: 10 }));
});

it('is on by default, skips replies under 1 KiB on the fast path, and turns off with compression: false', async (t) => {
  const on = makeApp();
  on.get('/rows', () => ({ rows }));
  on.get('/small', () => ({ ok: true }));
  on.get('/page', () => `<p>${'x'.repeat(2000)}</p>`);
  const c = await connect(t, 'server', on);
  const big = await c.get('/rows', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(big.headers['content-encoding'], 'gzip');
  assert.match(String(big.headers['etag']), /^W\//, 'the conditional plugin is on by default too');
  const small = await c.get('/small', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(small.headers['content-encoding'], undefined);
  assert.equal(small.headers['vary'], undefined);
  assert.equal(small.headers['etag'], undefined);
  assert.equal(small.text, '{"ok":true}');
  assert.equal((await c.get('/page', { headers: { 'accept-encoding': 'br' } })).headers['content-encoding'], 'br');
  const off = makeApp({ compression: false, conditional: false });
  off.get('/rows', () => ({ rows }));
  const plain = await (await connect(t, 'server', off)).get('/rows', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers['etag'], undefined);
  assert.deepEqual(JSON.parse(plain.text), { rows });
});
