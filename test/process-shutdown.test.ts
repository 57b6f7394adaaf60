import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import diagnostics from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import { Vial } from '../src/index.ts';
import { installGracefulShutdown, trackRequests } from '../src/process/shutdown.ts';
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

/** Connects, writes `request` (one or more pipelined requests), resolves with all it read once the server closes. */
function exchange(port: number, request: string, onConnect?: (socket: net.Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (raw += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(raw));
    socket.write(request);
    onConnect?.(socket);
  });
}

interface RawResponse { status: number; headers: Record<string, string>; body: string }

/** Splits what one connection read into its responses (each framed by content-length). */
function parseResponses(raw: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    assert.notEqual(end, -1, `an incomplete response head: ${JSON.stringify(rest)}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length']);
    assert.ok(Number.isInteger(length), `a response without content-length: ${statusLine}`);
    // Bodies here are ASCII, so characters are bytes.
    out.push({ status: Number(statusLine?.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

/** A quiet app whose /stream responses send their head and first chunk, then wait until the test releases them. */
function slowApp(): { app: Vial; started: () => number; release: () => void } {
  const app = new Vial({ env: 'test', log: { level: 'silent' }, watchdog: { enabled: false } });
  let started = 0;
  const waiting: (() => void)[] = [];
  app.get('/stream', () => (async function* stream() {
    started++;
    yield Buffer.from('a');
    await new Promise<void>((resolve) => waiting.push(resolve));
    yield Buffer.from('b');
  })());
  app.get('/', () => ({ ok: true }));
  return { app, started: () => started, release: () => waiting.splice(0).forEach((w) => w()) };
}

/** The 503 admission answers once it is closed, for a request with this Accept header. */
async function admissionClosing503(accept: string): Promise<RawResponse> {
  const { app } = slowApp();
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    app.load.admission.close();
    const replies = parseResponses(await exchange(running.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: ${accept}\r\n\r\n`));
    assert.equal(replies.length, 1);
    return replies[0] as RawResponse;
  } finally {
    await running.close();
    await app.shutdown();
  }
}

/**
 * The 503 the shutdown tracker answers a reused connection with during a drain. The first response
 * has its head out before the drain (else it would carry Connection: close and the server would
 * never answer what is pipelined behind it).
 */
async function shutdown503(accept: string): Promise<RawResponse> {
  const { app, started, release } = slowApp();
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  const handle = installGracefulShutdown(running.server, { signals: [], exit: () => {}, gracefulTimeoutMs: 10_000, refusal: app.refusalStyle });
  try {
    let socket: net.Socket | undefined;
    let head = '';
    const raw = exchange(running.port, 'GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', (s) => {
      socket = s;
      s.on('data', (d: string) => (head += d));
    });
    await waitUntil('the streamed response to start', () => started() === 1 && head.includes('\r\n\r\n'));
    const done = handle.shutdown('test');
    // Released only once the server has parsed the pipelined request: the slow response closes the connection.
    let seen = 0;
    const onStart = (): void => void seen++;
    diagnostics.subscribe('http.server.request.start', onStart);
    socket?.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: ${accept}\r\n\r\n`);
    await waitUntil('the server to receive the pipelined request', () => seen === 1);
    diagnostics.unsubscribe('http.server.request.start', onStart);
    release();
    const all = await raw;
    assert.match(all, /^HTTP\/1\.1 200 OK/);
    // The streamed response is chunked; what follows it is the refusal.
    const replies = parseResponses(all.slice(all.indexOf('HTTP/1.1 503')));
    assert.equal(replies.length, 1);
    assert.equal(await done, 0);
    return replies[0] as RawResponse;
  } finally {
    await app.shutdown();
  }
}

/** A server whose /slow requests wait until the test releases them. */
async function slowServer(): Promise<{ server: http.Server; port: number; started: () => number; release: () => void }> {
  let started = 0;
  const waiting: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/slow') {
      started++;
      waiting.push(() => res.end('done'));
    } else if (path === '/stream') {
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

  it('answers a reused connection with the same closing 503 as admission: body, security headers, Connection: close, Retry-After', async () => {
    const json = 'application/json';
    const [byAdmission, byTracker] = [await admissionClosing503(json), await shutdown503(json)];
    const withoutId = (r: RawResponse): { headers: Record<string, string>; body: string } => {
      const id = r.headers['x-request-id'] ?? '';
      assert.ok(id.length > 0, 'the 503 names its request id');
      const { date: _date, 'x-request-id': _id, 'content-length': _length, ...headers } = r.headers;
      return { headers, body: r.body.replace(JSON.stringify(id), '"<id>"') };
    };
    assert.deepEqual(withoutId(byTracker), withoutId(byAdmission));
    assert.deepEqual(JSON.parse(byTracker.body), {
      error: {
        status: 503,
        code: 'VIAL_ERR_OVERLOADED',
        message: 'This server is shutting down (closing); retry on a new connection after 1 s.',
        requestId: byTracker.headers['x-request-id'],
      },
    });
    assert.equal(byTracker.headers.connection, 'close');
    assert.equal(byTracker.headers['retry-after'], '1');
    assert.equal(byTracker.headers['x-content-type-options'], 'nosniff', 'the app\'s security headers');
    assert.equal(byTracker.headers['content-type'], 'application/json; charset=utf-8');

    // A browser gets the same HTML page from both.
    const html = 'text/html,application/xhtml+xml';
    const [pageByAdmission, pageByTracker] = [await admissionClosing503(html), await shutdown503(html)];
    assert.equal(pageByTracker.headers['content-type'], 'text/html; charset=utf-8');
    // The document headers too (X-Frame-Options, Referrer-Policy...): not only the JSON set.
    const { date: _d, 'x-request-id': _i, 'content-length': _l, ...pageHeaders } = pageByTracker.headers;
    const { date: _d2, 'x-request-id': _i2, 'content-length': _l2, ...admissionPageHeaders } = pageByAdmission.headers;
    assert.deepEqual(pageHeaders, admissionPageHeaders);
    assert.equal(pageByTracker.headers['x-frame-options'], 'DENY');
    assert.equal(
      pageByTracker.body.replace(pageByTracker.headers['x-request-id'] ?? '', '<id>'),
      pageByAdmission.body.replace(pageByAdmission.headers['x-request-id'] ?? '', '<id>'),
    );
    assert.match(pageByTracker.body, /This server is shutting down \(closing\)/);
  });
});

describe('trackRequests', () => {
  /** The 'close' listeners a response and its socket have when the app's handler sees each of three requests on one connection. */
  async function listenersSeen(tracked: boolean): Promise<{ res: number; socket: number }[]> {
    const seen: { res: number; socket: number }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ res: res.listenerCount('close'), socket: req.socket.listenerCount('close') });
      res.end('ok');
    });
    const tracker = tracked ? trackRequests(server) : undefined;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
    }
    agent.destroy();
    tracker?.dispose();
    await new Promise<void>((r) => server.close(() => r()));
    return seen;
  }

  it('adds no listener per request until a drain starts: one close listener per connection', async () => {
    const bare = await listenersSeen(false);
    const tracked = await listenersSeen(true);
    assert.equal(tracked.length, 3);
    assert.deepEqual(tracked.map((t) => t.res), bare.map((b) => b.res), 'no close listener on the response');
    assert.deepEqual(tracked.map((t) => t.socket), bare.map((b) => b.socket + 1), 'one close listener on the socket, not one per request');
  });

  it('watches the responses in flight once a drain starts', async () => {
    let held: http.ServerResponse | undefined;
    const server = http.createServer((_req, res) => void (held = res));
    const tracker = trackRequests(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const reply = get(port, '/slow');
    await waitUntil('the request', () => held !== undefined);
    const before = held?.listenerCount('close') ?? 0;
    const idle = tracker.idle();
    assert.equal(held?.listenerCount('close'), before + 1, 'idle() watches it');
    tracker.startClosing(false);
    assert.equal(held?.listenerCount('close'), before + 1, 'and startClosing() does not watch it twice');
    held?.end('done');
    await idle;
    assert.equal(tracker.inFlight, 0);
    assert.equal((await reply).connection, 'close');
    tracker.dispose();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('counts pipelined requests during a drain until each response has closed', async () => {
    const { server, port, release } = await slowServer();
    const tracker = trackRequests(server);
    const raw = exchange(port, 'GET /slow?token=secret HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('both pipelined requests', () => tracker.total === 2);
    // /fast has ended, but its response waits behind /slow's (RFC 9112 §9.3.2): both are in flight.
    assert.equal(tracker.inFlight, 2);
    assert.deepEqual(tracker.describe().map((d) => d.replace(/ \(\d+ ms\)$/, '')), ['GET /slow', 'GET /fast']);
    tracker.startClosing(false);
    let drained = false;
    const idle = tracker.idle().then(() => void (drained = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(drained, false, 'not idle while both are open');
    assert.equal(tracker.inFlight, 2);
    release();
    await idle;
    assert.equal(tracker.inFlight, 0);
    assert.match(await raw, /^HTTP\/1\.1 200 OK[^]*done/);
    tracker.dispose();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('stops counting pipelined responses whose connection died, so the drain ends', async () => {
    const { server, port, started, release } = await slowServer();
    const tracker = trackRequests(server);
    let socket: net.Socket | undefined;
    const raw = exchange(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n', (s) => (socket = s));
    await waitUntil('the pipelined requests', () => tracker.total === 3 && started() === 2);
    assert.equal(tracker.inFlight, 3);
    tracker.startClosing(false);
    const idle = tracker.idle();
    // Node 22 never closes the responses still queued behind the first when their socket dies.
    socket?.destroy();
    await raw;
    await idle;
    assert.equal(tracker.inFlight, 0);
    release();
    tracker.dispose();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('counts pipelined requests outside a drain too, and forgets them once answered', async () => {
    const { server, port, release } = await slowServer();
    const tracker = trackRequests(server);
    const raw = exchange(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await waitUntil('both pipelined requests', () => tracker.total === 2);
    assert.equal(tracker.inFlight, 2);
    release();
    assert.deepEqual(parseResponses(await raw).map((r) => r.body), ['done', 'fast']);
    await waitUntil('no request in flight', () => tracker.inFlight === 0);
    assert.deepEqual(tracker.describe(), []);
    tracker.dispose();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
