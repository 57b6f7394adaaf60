import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import diagnostics from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import { installGracefulShutdown } from '../src/process/shutdown.ts';
import { waitUntil } from './helpers/wait.ts';

interface Reply { status: number; body: string; connection: string | undefined }

function get(port: number, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
  });
}

/** A server whose /slow requests wait until the test releases them. */
async function slowServer(): Promise<{ server: http.Server; port: number; started: () => number; release: () => void }> {
  let started = 0;
  const waiting: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') {
      started++;
      waiting.push(() => res.end('done'));
    } else if (req.url === '/stream') {
      res.writeHead(200);
      res.write('a');
      waiting.push(() => res.end('b'));
    } else res.end('fast');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, port, started: () => started, release: () => waiting.splice(0).forEach((w) => w()) };
}

describe('installGracefulShutdown', () => {
  it('finishes in-flight requests, stops accepting, then exits 0', async () => {
    const { server, port, started, release } = await slowServer();
    const codes: number[] = [];
    const handle = installGracefulShutdown(server, { signals: [], exit: (c) => codes.push(c), gracefulTimeoutMs: 10_000 });
    const inFlight = [get(port, '/slow'), get(port, '/slow'), get(port, '/slow')];
    await waitUntil('three slow requests', () => started() === 3);
    const done = handle.shutdown('test');
    assert.equal(handle.closing, true);
    await assert.rejects(get(port, '/fast'), { code: 'ECONNREFUSED' });
    release();
    const replies = await Promise.all(inFlight);
    assert.deepEqual(replies.map((r) => [r.status, r.body, r.connection]), Array(3).fill([200, 'done', 'close']));
    assert.equal(await done, 0);
    assert.deepEqual(codes, [0]);
  });

  it('refuses a new request on an already used connection with 503 and Connection: close', async () => {
    const { server, port, release } = await slowServer();
    const codes: number[] = [];
    const handle = installGracefulShutdown(server, { signals: [], exit: (c) => codes.push(c), gracefulTimeoutMs: 10_000 });
    const socket = net.connect(port, '127.0.0.1');
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (raw += d));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('the first response to start', () => raw.includes('\r\n\r\n'));
    const done = handle.shutdown('test');
    // Pipelined on the same connection (RFC 9112 §9.3.2) after shutdown began.
    let seen = 0;
    const onStart = (): void => void seen++;
    diagnostics.subscribe('http.server.request.start', onStart);
    socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('the server to receive the pipelined request', () => seen === 1);
    diagnostics.unsubscribe('http.server.request.start', onStart);
    release();
    await closed;
    assert.match(raw, /^HTTP\/1\.1 200 OK/);
    assert.match(raw, /HTTP\/1\.1 503 Service Unavailable\r\n[^]*Connection: close/i);
    assert.doesNotMatch(raw, /fast/);
    assert.equal(await done, 0);
  });

  it('serves the first request of a connection accepted before shutdown', async () => {
    const { server, port } = await slowServer();
    const codes: number[] = [];
    const handle = installGracefulShutdown(server, { signals: [], exit: (c) => codes.push(c), gracefulTimeoutMs: 10_000 });
    const socket = net.connect(port, '127.0.0.1');
    const accepted = new Promise<void>((r) => server.once('connection', () => r()));
    await new Promise<void>((r) => socket.once('connect', () => r()));
    await accepted;
    const done = handle.shutdown('test');
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (raw += d));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    assert.match(raw, /^HTTP\/1\.1 200 OK[^]*Connection: close[^]*fast$/i);
    assert.equal(await done, 0);
  });

  it('closes idle keep-alive connections at once', async () => {
    const { server, port } = await slowServer();
    const handle = installGracefulShutdown(server, { signals: [], exit: () => {}, gracefulTimeoutMs: 10_000 });
    let serverSide: net.Socket | undefined;
    server.on('connection', (s: net.Socket) => (serverSide = s));
    const agent = new http.Agent({ keepAlive: true });
    const first = await new Promise<http.IncomingMessage>((resolve) => http.get({ port, host: '127.0.0.1', path: '/fast', agent }, resolve));
    first.resume();
    await new Promise((r) => first.on('end', r));
    assert.equal(serverSide?.destroyed, false);
    assert.equal(await handle.shutdown('test'), 0);
    // Checked on the server's side: the agent's idle socket is unref'd, so waiting for the
    // client to notice would not keep the test's event loop alive.
    assert.equal(serverSide.destroyed, true);
    agent.destroy();
  });

  it('forces connections closed after the grace period and exits 1', async () => {
    const { server, port, started } = await slowServer();
    const codes: number[] = [];
    const handle = installGracefulShutdown(server, { signals: [], exit: (c) => codes.push(c), gracefulTimeoutMs: 50 });
    const stuck = get(port, '/slow');
    await waitUntil('the slow request', () => started() === 1);
    assert.equal(await handle.shutdown('test'), 1);
    await assert.rejects(stuck, { code: 'ECONNRESET' });
    assert.deepEqual(codes, [1]);
  });
});
