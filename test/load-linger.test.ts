/**
 * Lingering close (issue 13, class 3): an answer sent before the request body was read reaches the
 * client, over raw sockets through a real server. The clients here read nothing until they have
 * sent their whole body, as most simple clients do: before lingering, the server closed under
 * their upload and they got EPIPE/ECONNRESET instead of the 413 (0 of 10 such clients read it).
 * Then the bounds: a client that goes on sending is cut at `lingerBytes` or at `lingerMs`.
 */
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Vial } from '../src/index.ts';
import { resolveServerLimitOptions } from '../src/load/options.ts';
import { makeApp } from './helpers/both.ts';
import { waitUntil } from './helpers/wait.ts';

const LIMIT = 1024;

function uploadApp(server: { lingerBytes?: number; lingerMs?: number } = {}): { app: Vial; calls: { count: number } } {
  const calls = { count: 0 };
  const app = makeApp({ body: { maxBytes: LIMIT }, load: { server } });
  app.post('/upload', async (ctx) => ({ length: (await ctx.request.bytes()).length }));
  app.post('/count', () => {
    calls.count++;
    return { count: calls.count };
  });
  app.get('/', () => 'ok');
  return { app, calls };
}

async function listen(t: TestContext, app: Vial): Promise<number> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  return running.port;
}

interface Exchange {
  readonly socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Socket errors seen (EPIPE, ECONNRESET): none when the close was clean. */
  readonly errors: string[];
  readonly state: { ended: boolean; closed: boolean };
}

/**
 * `paused`: reads nothing until resumed. `halfOpen`: goes on sending after the server's FIN (a
 * plain Node socket answers a FIN with its own, which would end the upload for it).
 */
function open(port: number, options: { paused?: boolean; halfOpen?: boolean } = {}): Exchange {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: options.halfOpen === true });
  const errors: string[] = [];
  const state = { ended: false, closed: false };
  let text = '';
  if (options.paused === true) socket.pause();
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
  socket.on('end', () => (state.ended = true));
  socket.once('close', () => (state.closed = true));
  return { socket, received: () => text, errors, state };
}

/** Writes `total` bytes in 16 KiB chunks with a pause between them (a client uploading in pieces). */
async function upload(socket: Socket, total: number, gapMs = 1): Promise<void> {
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  for (let sent = 0; sent < total && !socket.destroyed; sent += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
    // A socket the server reset never drains: stop at its close too (its error is the caller's).
    if (!socket.write(piece)) {
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
    await sleep(gapMs);
  }
}

function parse(text: string): { status: number; headers: string; body: string } {
  const end = text.indexOf('\r\n\r\n');
  assert.notEqual(end, -1, `no complete response head in ${JSON.stringify(text.slice(0, 200))}`);
  return { status: Number(text.slice(9, 12)), headers: text.slice(0, end).toLowerCase(), body: text.slice(end + 4) };
}

describe('an answer sent before the body was read', () => {
  it('reaches a client that reads only after sending its whole body: the complete 413, no reset, then a clean close', async (t) => {
    const port = await listen(t, uploadApp().app);
    const client = open(port, { paused: true });
    const total = 300_000;
    client.socket.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${total}\r\n\r\n`);
    await upload(client.socket, total);
    client.socket.resume();
    await waitUntil('the server to close the connection', () => client.state.closed);
    assert.deepEqual(client.errors, [], 'the client saw no EPIPE or ECONNRESET');
    assert.equal(client.state.ended, true, 'the server closed with a FIN');
    const res = parse(client.received());
    assert.equal(res.status, 413);
    assert.match(res.headers, /\r\nconnection: close/);
    const body = JSON.parse(res.body) as { error: { code: string } };
    assert.equal(body.error.code, 'VIAL_ERR_BODY_TOO_LARGE');
  });

  it('also when the limit is found mid-body (chunked, no declared length)', async (t) => {
    const port = await listen(t, uploadApp().app);
    const client = open(port, { paused: true });
    client.socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = `${(4096).toString(16)}\r\n${'a'.repeat(4096)}\r\n`;
    for (let i = 0; i < 50; i++) {
      client.socket.write(chunk);
      await sleep(1);
    }
    client.socket.write('0\r\n\r\n');
    client.socket.resume();
    await waitUntil('the server to close the connection', () => client.state.closed);
    assert.deepEqual(client.errors, []);
    assert.equal(parse(client.received()).status, 413);
    assert.equal((JSON.parse(parse(client.received()).body) as { error: { code: string } }).error.code, 'VIAL_ERR_BODY_TOO_LARGE');
  });

  it('runs no request pipelined behind a refused body', async (t) => {
    const { app, calls } = uploadApp();
    const port = await listen(t, app);
    const client = open(port);
    client.socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 4000\r\n\r\n');
    await waitUntil('the 413', () => client.received().includes('"VIAL_ERR_BODY_TOO_LARGE"'));
    client.socket.write(`${'a'.repeat(4000)}POST /count HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`);
    client.socket.end();
    await waitUntil('the server to close the connection', () => client.state.closed);
    assert.equal(calls.count, 0, 'the request after the refused body never reached a handler');
    assert.equal(client.received().match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
  });

  it('keeps a keep-alive connection usable when the unread rest of the body ends within the bounds', async (t) => {
    const { app, calls } = uploadApp();
    // /count answers without reading its body: Node reads the rest to reuse the connection.
    const port = await listen(t, app);
    const client = open(port);
    client.socket.write('POST /count HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 200000\r\n\r\n');
    await waitUntil('the first answer', () => client.received().includes('{"count":1}'));
    await upload(client.socket, 200_000);
    client.socket.write('POST /count HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n');
    await waitUntil('the second answer on the same connection', () => client.received().includes('{"count":2}'));
    assert.equal(calls.count, 2);
    assert.equal(client.state.closed, false);
    client.socket.destroy();
  });

  it('leaves nothing behind on a keep-alive connection after many early answers', async (t) => {
    const { app, calls } = uploadApp();
    const port = await listen(t, app);
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const client = open(port);
    t.after(() => client.socket.destroy());
    // More than Node's default of 10 listeners per event: a listener kept per answer would warn.
    for (let i = 1; i <= 15; i++) {
      client.socket.write('POST /count HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n');
      await waitUntil(`answer ${i}`, () => client.received().includes(`{"count":${i}}`));
      client.socket.write('a'.repeat(1000));
    }
    assert.equal(calls.count, 15);
    assert.equal(client.state.closed, false);
    assert.deepEqual(warnings, []);
  });

  it('cuts a keep-alive connection whose unread rest goes past lingerBytes', async (t) => {
    const port = await listen(t, uploadApp({ lingerBytes: 64 * 1024, lingerMs: 600_000 }).app);
    const client = open(port);
    client.socket.write('POST /count HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n');
    await waitUntil('the answer', () => client.received().includes('{"count":1}'));
    void upload(client.socket, 100_000_000, 0);
    // lingerMs is ten minutes: a close within the wait below is the byte bound's.
    await waitUntil('the server to close the connection', () => client.state.closed);
    assert.equal(parse(client.received()).status, 200);
  });
});

/**
 * The keep-alive answers (403, 503, 404): there Node itself reads the rest of the body to reuse the
 * connection, so these held before lingering too; what lingering adds is the bound on that read
 * (checked above: a keep-alive connection is cut past lingerBytes).
 */
describe('every answer vial gives before reading a body reaches a client that reads only after uploading', () => {
  /** Sends `head` and 300 kB of body without reading, then reads: resolves with the first answer. */
  async function uploadThenRead(port: number, head: string): Promise<{ status: number; body: string; errors: string[] }> {
    const client = open(port, { paused: true });
    client.socket.write(`${head}Content-Type: application/octet-stream\r\nContent-Length: 300000\r\n\r\n`);
    await upload(client.socket, 300_000);
    client.socket.resume();
    await waitUntil('a complete answer', () => /\r\n\r\n[\s\S]*\}$/.test(client.received()) || client.state.closed);
    client.socket.destroy();
    const res = parse(client.received());
    return { status: res.status, body: res.body, errors: client.errors };
  }

  it('the CSRF 403 (cross-site POST)', async (t) => {
    const app = makeApp({ env: 'development', security: { session: { store: 'memory' } } });
    let ran = 0;
    app.post('/transfer', async (ctx) => {
      ran++;
      return { length: (await ctx.request.bytes()).length };
    });
    const port = await listen(t, app);
    const res = await uploadThenRead(port, 'POST /transfer HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-Fetch-Site: cross-site\r\nOrigin: https://evil.example\r\n');
    assert.deepEqual(res.errors, []);
    assert.equal(res.status, 403);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'VIAL_ERR_CSRF');
    assert.equal(ran, 0);
  });

  it('the admission 503 (the only slot is held)', async (t) => {
    const app = makeApp({ load: { admission: { maxInFlight: 1, maxQueue: 0 } } });
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    app.get('/hold', async () => {
      await held;
      return 'done';
    });
    app.post('/upload', async (ctx) => ({ length: (await ctx.request.bytes()).length }));
    const port = await listen(t, app);
    const holder = open(port);
    t.after(() => holder.socket.destroy());
    holder.socket.write('GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitUntil('the only slot to be held', () => app.load.admission.inFlight === 1);
    try {
      const res = await uploadThenRead(port, 'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      assert.deepEqual(res.errors, []);
      assert.equal(res.status, 503);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'VIAL_ERR_OVERLOADED');
    } finally {
      release();
    }
  });

  it('the 404 of an unknown path', async (t) => {
    const port = await listen(t, uploadApp().app);
    const res = await uploadThenRead(port, 'POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    assert.deepEqual(res.errors, []);
    assert.equal(res.status, 404);
  });
});

describe('a client that keeps sending after the answer', () => {
  it('is cut at lingerBytes, having read the 413 first', async (t) => {
    const port = await listen(t, uploadApp({ lingerBytes: 64 * 1024, lingerMs: 600_000 }).app);
    const client = open(port, { halfOpen: true });
    client.socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n');
    void upload(client.socket, 100_000_000, 0);
    await waitUntil('the server to close the connection', () => client.state.closed);
    assert.equal(parse(client.received()).status, 413);
  });

  it('is cut at lingerMs when it trickles forever', async (t) => {
    const port = await listen(t, uploadApp({ lingerBytes: 1_073_741_824, lingerMs: 200 }).app);
    const client = open(port, { halfOpen: true });
    client.socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n');
    const trickle = setInterval(() => {
      if (!client.socket.destroyed) client.socket.write('a'.repeat(100));
    }, 20);
    t.after(() => clearInterval(trickle));
    await waitUntil('the server to close the connection', () => client.state.closed);
    clearInterval(trickle);
    assert.equal(client.state.ended, true, 'the server half-closed after the answer');
    assert.equal(parse(client.received()).status, 413);
  });

  it('closes at once with lingerMs 0 (no lingering, as before)', async (t) => {
    const port = await listen(t, uploadApp({ lingerMs: 0 }).app);
    const client = open(port, { halfOpen: true });
    client.socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n');
    void upload(client.socket, 100_000_000, 0);
    await waitUntil('the server to close the connection', () => client.state.closed);
    assert.equal(parse(client.received()).status, 413);
  });
});

describe('over TLS', () => {
  let dir = '';
  let cert = '';
  let key = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vial-linger-'));
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lingers on the HTTP/1.1 fallback too', async (t) => {
    const running = await uploadApp().app.listen({ port: 0, host: '127.0.0.1', tls: { cert, key } });
    t.after(() => running.close());
    const socket = tls.connect({ port: running.port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.pause();
    const errors: string[] = [];
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
    let closed = false;
    socket.once('close', () => (closed = true));
    socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 300000\r\n\r\n');
    await upload(socket, 300_000);
    socket.resume();
    await waitUntil('the server to close the connection', () => closed);
    assert.deepEqual(errors, []);
    assert.equal(parse(text).status, 413);
  });

  it('leaves HTTP/2 alone: the early 413 ends only its stream, and the session serves the next request', async (t) => {
    const running = await uploadApp().app.listen({ port: 0, host: '127.0.0.1', tls: { cert, key } });
    t.after(() => running.close());
    // Node warns (and drops it) when a response carries Connection on HTTP/2 (RFC 9113 §8.2.2).
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const session = http2.connect(running.url, { rejectUnauthorized: false });
    t.after(() => session.close());
    const stream = session.request({ ':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream', 'content-length': '300000' });
    stream.on('error', () => undefined); // the server may reset the rest of the upload (RFC 9113 §8.1)
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const status = new Promise<number>((resolve) => stream.once('response', (headers) => resolve(Number(headers[':status']))));
    let ended = false;
    stream.once('close', () => (ended = true));
    for (let i = 0; i < 18 && !stream.destroyed; i++) {
      stream.write(Buffer.alloc(16 * 1024, 0x61));
      await sleep(1);
    }
    assert.equal(await status, 413);
    await waitUntil('the stream to close', () => ended);
    assert.equal((JSON.parse(Buffer.concat(chunks).toString()) as { error: { code: string } }).error.code, 'VIAL_ERR_BODY_TOO_LARGE');
    assert.equal(warnings.length, 0, `no connection-specific header on HTTP/2: ${warnings.join('; ')}`);
    const next = session.request({ ':path': '/' });
    const nextStatus = await new Promise<number>((resolve) => next.once('response', (headers) => resolve(Number(headers[':status']))));
    next.resume();
    assert.equal(nextStatus, 200);
    assert.equal(session.destroyed, false);
  });
});

describe('load.server.lingerBytes and lingerMs', () => {
  it('default to 1 MiB and 5 s, and 0 switches lingering off', () => {
    const o = resolveServerLimitOptions();
    assert.equal(o.lingerBytes, 1_048_576);
    assert.equal(o.lingerMs, 5_000);
    assert.equal(resolveServerLimitOptions({ lingerMs: 0 }).lingerMs, 0);
  });

  it('refuse values out of bounds with a message naming the option', () => {
    assert.throws(() => resolveServerLimitOptions({ lingerMs: -1 }), /load\.server\.lingerMs/);
    assert.throws(() => resolveServerLimitOptions({ lingerBytes: 1.5 }), /load\.server\.lingerBytes/);
  });
});
