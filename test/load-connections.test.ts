/**
 * The connection cap (issue 13, class 8): on by default, derived from the open-file limit, one
 * count per process across every accept socket; connections over it are reset before any byte
 * is read and counted; the count and the cap show in admin /load and /metrics.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { startAdmin } from '../src/admin/server.ts';
import { resolveConfig } from '../src/config.ts';
import { acceptorCount, acceptorsSupported } from '../src/load/acceptors.ts';
import { connectionStats, guardConnections, openFileLimit, parseOpenFileLimit, requestPopulation } from '../src/load/connections.ts';
import { createServer } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { defaultMaxConnections, FALLBACK_OPEN_FILE_LIMIT } from '../src/load/options.ts';
import type { Vial } from '../src/index.ts';
import { makeApp } from './helpers/both.ts';
import { waitUntil } from './helpers/wait.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            4096                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('the default connection cap', () => {
  it('reads the soft open-file limit from /proc/self/limits', () => {
    assert.equal(parseOpenFileLimit(LIMITS), 4096);
    assert.equal(parseOpenFileLimit(LIMITS.replace('4096 ', 'unlimited ')), undefined);
    assert.equal(parseOpenFileLimit('no such row'), undefined);
  });

  it('is the limit this process really has (what a shell it starts reports)', { skip: process.platform !== 'linux' }, () => {
    // A child inherits the soft limit Node raised at its start-up.
    const shell = Number(execFileSync('sh', ['-c', 'ulimit -Sn'], { encoding: 'utf8' }).trim());
    assert.equal(openFileLimit(), shell);
  });

  it('is three quarters of the descriptors less 64, with a floor', () => {
    assert.equal(defaultMaxConnections(1024), 704);
    assert.equal(defaultMaxConnections(65_536), 49_088);
    assert.equal(defaultMaxConnections(64), 16);
  });

  it('is derived from the limit in the resolved config, and overridable by option or VIAL_MAX_CONNECTIONS', () => {
    assert.equal(resolveConfig({}, {}, { openFileLimit: 1024 }).load.server.maxConnections, 704);
    assert.equal(resolveConfig({}, {}).load.server.maxConnections, defaultMaxConnections(openFileLimit() ?? FALLBACK_OPEN_FILE_LIMIT));
    assert.equal(resolveConfig({ load: { server: { maxConnections: 50 } } }, { VIAL_MAX_CONNECTIONS: '7' }).load.server.maxConnections, 50);
    assert.equal(resolveConfig({}, { VIAL_MAX_CONNECTIONS: '7' }).load.server.maxConnections, 7);
    assert.equal(resolveConfig({ load: { server: { maxConnections: 0 } } }).load.server.maxConnections, 0);
    assert.throws(() => resolveConfig({ load: { server: { maxConnections: -1 } } }), /load\.server\.maxConnections/);
  });
});

async function listen(t: TestContext, app: Vial): Promise<number> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  if (acceptorsSupported()) assert.ok(acceptorCount(running.server) > 1, 'several accept sockets share the cap');
  return running.port;
}

/** The count is per process: the next test starts from none open. */
async function closeAll(sockets: Socket[]): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await waitUntil('every connection of the test to leave the count', () => connectionStats().open === 0);
}

/** A keep-alive connection that got an answer: accepted and counted. */
async function served(port: number, sockets: Socket[]): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await waitUntil('an answer on an admitted connection', () => text.endsWith('ok'));
}

/** A connection the server closes without a byte: resolves with what the client saw. */
function refused(port: number): Promise<{ data: string; error: string | undefined }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    socket.on('close', () => resolve({ data, error }));
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
}

describe('the connection cap', () => {
  it('holds across every accept socket: past it new connections are reset unanswered and counted', async (t) => {
    const app = makeApp({ load: { server: { maxConnections: 3, acceptors: 4 } } });
    app.get('/', () => 'ok');
    const port = await listen(t, app);
    const sockets: Socket[] = [];
    t.after(() => closeAll(sockets));
    for (let i = 0; i < 3; i++) await served(port, sockets);
    assert.equal(connectionStats().open, 3);
    const before = connectionStats().refused;
    // Twelve more, from twelve source ports: the kernel spreads them over the four sockets.
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => refused(port)));
    for (const outcome of outcomes) assert.equal(outcome.data, '', 'a refused connection gets no answer');
    assert.equal(connectionStats().refused - before, 12);
    assert.equal(connectionStats().open, 3);
    assert.equal(connectionStats().max, 3);
    // A slot that frees up is taken by the next connection.
    sockets.shift()?.destroy();
    await waitUntil('the closed connection to leave the count', () => connectionStats().open === 2);
    await served(port, sockets);
    assert.equal(connectionStats().open, 3);
  });

  it('shows open connections, the cap and refusals in admin /load and /metrics', async (t) => {
    const app = makeApp({ load: { server: { maxConnections: 2, acceptors: 2 } } });
    app.get('/', () => 'ok');
    const port = await listen(t, app);
    const admin = await startAdmin(app, { port: 0 });
    t.after(() => admin.close());
    const sockets: Socket[] = [];
    t.after(() => closeAll(sockets));
    await served(port, sockets);
    await served(port, sockets);
    await refused(port);
    const load = (await (await fetch(`${admin.url}/load`)).json()) as { connections: { open: number; max: number; refused: number } };
    // The admin listener's own connection is not counted: it is not an app server.
    assert.deepEqual({ open: load.connections.open, max: load.connections.max }, { open: 2, max: 2 });
    assert.ok(load.connections.refused >= 1);
    const metrics = await (await fetch(`${admin.url}/metrics`)).text();
    assert.match(metrics, /^vial_open_connections 2$/m);
    assert.match(metrics, /^vial_max_connections 2$/m);
    assert.match(metrics, new RegExp(`^vial_connections_refused_total ${load.connections.refused}$`, 'm'));
  });
});

describe('the request population admission reads', () => {
  /** A plain TCP server guarded like vial's; `h2` gives it the HTTP/2 secure server's updateSettings. */
  async function guarded(t: TestContext, h2: boolean): Promise<{ server: NetServer; port: number }> {
    const server = createServer((socket) => { socket.on('error', () => {}); });
    if (h2) Object.assign(server, { updateSettings: () => {} });
    guardConnections(server, 0);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address();
    return { server, port: typeof address === 'object' && address !== null ? address.port : 0 };
  }

  async function openOne(t: TestContext, port: number): Promise<Socket> {
    const socket = connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    return socket;
  }

  it('counts an HTTP/1.1 connection as one request and one to an HTTP/2-capable server as the most streams it may carry', async (t) => {
    const before = requestPopulation();
    const plain = await guarded(t, false);
    const h1 = await openOne(t, plain.port);
    await waitUntil('the HTTP/1.1 connection counted once', () => requestPopulation() === before + 1);
    const secure = await guarded(t, true);
    const h2 = await openOne(t, secure.port);
    await waitUntil('the HTTP/2-capable connection counted as 1,000', () => requestPopulation() === before + 1001);
    h2.destroy();
    h1.destroy();
    await waitUntil('both leave the count when they close', () => requestPopulation() === before);
  });
});
