import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';
import { connect as connectSocket } from 'node:net';
import type { Socket } from 'node:net';
import { rawOpen } from './helpers/raw.ts';

const MiB = 1024 * 1024;

function jsonApp(): ReturnType<typeof makeApp> {
  const app = makeApp();
  app.post('/j', async (ctx) => ({ got: await ctx.request.json() }));
  app.post('/t', async (ctx) => ({ length: (await ctx.request.text()).length }));
  app.post('/f', async (ctx) => (await ctx.request.form()).toObject());
  app.post('/small', { maxBodyBytes: 10 }, async (ctx) => ({ length: (await ctx.request.bytes()).length }));
  app.post('/large', { maxBodyBytes: 2 * MiB }, async (ctx) => ({ length: (await ctx.request.bytes()).length }));
  return app;
}

function assertPrototypeClean(): void {
  const probe: Record<string, unknown> = {};
  assert.equal(probe['polluted'], undefined, 'Object.prototype was polluted');
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
}

both('request body limits', (mode) => {
  it('accepts a body of exactly 1 MiB and refuses one byte more with 413 by default', async (t) => {
    const c = await connect(t, mode, jsonApp());
    assert.deepEqual((await c.post('/t', { body: 'a'.repeat(MiB), headers: { 'content-type': 'text/plain' } })).json(), { length: MiB });
    const res = await c.post('/t', { body: 'a'.repeat(MiB + 1), headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 413);
    assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_BODY_TOO_LARGE');
  });

  it('applies a per-route maxBodyBytes, lower or higher than the default', async (t) => {
    const c = await connect(t, mode, jsonApp());
    assert.deepEqual((await c.post('/small', { body: '0123456789' })).json(), { length: 10 });
    assert.equal((await c.post('/small', { body: '0123456789X' })).status, 413);
    assert.deepEqual((await c.post('/large', { body: Buffer.alloc(MiB + 10) })).json(), { length: MiB + 10 });
  });

  it('refuses malformed JSON with 400', async (t) => {
    const c = await connect(t, mode, jsonApp());
    for (const body of ['{', '{"a":}', "{'a':1}", '', 'undefined', '[1,]', '{"constructor": x}', '{"prototype": }']) {
      const res = await c.post('/j', { body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, `body ${JSON.stringify(body)}`);
      assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_MALFORMED_JSON', `body ${JSON.stringify(body)}`);
    }
  });

  it('refuses __proto__ and constructor.prototype keys with 400 and never pollutes Object.prototype', async (t) => {
    const c = await connect(t, mode, jsonApp());
    const hostile = [
      '{"__proto__":{"polluted":true}}',
      '{"a":{"b":{"__proto__":{"polluted":true}}}}',
      '[{"__proto__":{"polluted":true}}]',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"\\u005f\\u005fproto__":{"polluted":true}}',
    ];
    for (const body of hostile) {
      const res = await c.post('/j', { body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, body);
      assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_JSON_FORBIDDEN_KEY', body);
      assertPrototypeClean();
    }
    // A "constructor" key alone is ordinary data.
    assert.deepEqual((await c.post('/j', { json: { constructor: 'x' } })).json(), { got: { constructor: 'x' } });
    // Forms and query strings with the same names stay plain data too.
    const form = await c.post('/f?__proto__[polluted]=1', { body: '__proto__=1&constructor[prototype][polluted]=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 200);
    assertPrototypeClean();
  });

  it('refuses JSON nested deeper than maxJsonDepth with 400', async (t) => {
    const c = await connect(t, mode, jsonApp());
    const nest = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
    assert.equal((await c.post('/j', { body: nest(64), headers: { 'content-type': 'application/json' } })).status, 200);
    const deep = await c.post('/j', { body: nest(65), headers: { 'content-type': 'application/json' } });
    assert.equal(deep.status, 400);
    assert.equal(deep.json<ErrorBody>().error.code, 'VIAL_ERR_JSON_TOO_DEEP');
    const hostile = await c.post('/j', { body: '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000), headers: { 'content-type': 'application/json' } });
    assert.equal(hostile.status, 400);
  });

  it('refuses invalid UTF-8 with 400', async (t) => {
    const c = await connect(t, mode, jsonApp());
    for (const bytes of [[0xff], [0xc0, 0xae], [0xe2, 0x82], [0xed, 0xa0, 0x80]]) {
      const body = Buffer.concat([Buffer.from('"'), Buffer.from(bytes), Buffer.from('"')]);
      const res = await c.post('/j', { body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, `bytes ${bytes.join(',')}`);
      assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_BAD_UTF8');
    }
  });
});

describe('request body limits on the wire', () => {
  it('answers 413 from Content-Length alone, before the client sends the rest of the body', async (t) => {
    const app = jsonApp();
    const c = await connect(t, 'server', app);
    const { socket, response } = rawOpen(c.port ?? 0);
    socket.write(`POST /t HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${10 * MiB}\r\n\r\n`);
    socket.write('only the first bytes');
    // The rest of the 10 MiB is never sent: an answer proves the server did not wait for it.
    const res = await response;
    assert.equal(res.status, 413);
    assert.equal(res.header('connection'), 'close');
    assert.equal((JSON.parse(res.body) as ErrorBody).error.code, 'VIAL_ERR_BODY_TOO_LARGE');
  });

  it('answers 413 to a chunked body once it passes the limit, without waiting for its end', async (t) => {
    const c = await connect(t, 'server', jsonApp());
    const { socket, response } = rawOpen(c.port ?? 0);
    socket.write('POST /t HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
    // 17 chunks of 64 KiB is just over 1 MiB; the terminating chunk is never sent.
    await writeChunks(socket, 17);
    const res = await response;
    assert.equal(res.status, 413);
    assert.equal(res.header('connection'), 'close');
    assert.equal((JSON.parse(res.body) as ErrorBody).error.code, 'VIAL_ERR_BODY_TOO_LARGE');
  });

  it('closes the connection on a client that keeps streaming past the limit', async (t) => {
    const c = await connect(t, 'server', jsonApp());
    const socket = connectSocket(c.port ?? 0, '127.0.0.1');
    t.after(() => socket.destroy());
    // EPIPE/ECONNRESET on our writes is the expected way to learn the server hung up.
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('POST /t HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
    // If the server kept reading, this 3 MiB body (with no end) would leave the socket open forever.
    await writeChunks(socket, 48);
    const timeout = new Promise<'open'>((resolve) => {
      const timer = setTimeout(() => resolve('open'), 5000);
      t.after(() => clearTimeout(timer));
    });
    assert.equal(await Promise.race([closed.then(() => 'closed' as const), timeout]), 'closed');
  });
});

async function writeChunks(socket: Socket, count: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let i = 0; i < count && !socket.destroyed; i++) {
    socket.write(`${chunk.length.toString(16)}\r\n`);
    socket.write(chunk);
    socket.write('\r\n');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
