import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { Vial } from '../src/index.ts';
import { acceptQueueIn, pastListening, readAcceptQueue } from '../src/load/accept-queue.ts';
import { acceptorCount, acceptorsSupported, closeAcceptors, listensOnIPv6, listenWithAcceptors } from '../src/load/acceptors.ts';
import { installGracefulShutdown } from '../src/process/shutdown.ts';
import { freePort, send } from './helpers/net.ts';

function quietApp(acceptors?: number): Vial {
  const app = new Vial({
    env: 'test',
    log: { level: 'silent' },
    watchdog: { enabled: false },
    load: acceptors === undefined ? {} : { server: { acceptors } },
  });
  app.get('/', () => ({ ok: true }));
  return app;
}

/** Resolves 'connected' or the connect error's code, within 5 s. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const guard = setTimeout(() => { socket.destroy(); resolve('timeout'); }, 5000);
    socket.once('connect', () => { clearTimeout(guard); socket.destroy(); resolve('connected'); });
    socket.once('error', (error: NodeJS.ErrnoException) => { clearTimeout(guard); resolve(error.code ?? 'error'); });
  });
}

/** listen() as a promise: rejects with the bind error. */
function listenAt(target: NetServer, spec: { port: number; host: string; backlog?: number; reusePort?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    target.once('error', reject);
    target.listen(spec, () => { target.off('error', reject); resolve(); });
  });
}

/** A plain (no SO_REUSEPORT) listener on 127.0.0.1:port, as another process would open it. */
async function listenPlain(port: number): Promise<NetServer> {
  const other = createServer();
  await listenAt(other, { port, host: '127.0.0.1' });
  return other;
}

describe('accept sockets (load.server.acceptors)', { skip: !acceptorsSupported() && 'SO_REUSEPORT balancing is Linux-only' }, () => {
  it('listens with 16 sockets by default and answers connections that arrive on any of them', async () => {
    const running = await quietApp().listen({ port: 0, host: '127.0.0.1' });
    try {
      assert.equal(acceptorCount(running.server), 16);
      // 64 fresh connections: the kernel spreads them over the sockets; every one is answered.
      const agent = new Agent({ keepAlive: false });
      const answers = await Promise.all(Array.from({ length: 64 }, () => send(running.port, agent, 'GET', '/')));
      agent.destroy();
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
    } finally {
      await running.close();
    }
  });

  it('never shares its port with a second process: a later plain bind fails, and so does listening on a taken port', async () => {
    const running = await quietApp().listen({ port: 0, host: '127.0.0.1' });
    try {
      await assert.rejects(listenPlain(running.port), { code: 'EADDRINUSE' });
      // A second vial on the same port probes without reusePort first, exactly like a plain listen.
      await assert.rejects(quietApp().listen({ port: running.port, host: '127.0.0.1' }), { code: 'EADDRINUSE' });
    } finally {
      await running.close();
    }
    const taken = await listenPlain(await freePort());
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(quietApp().listen({ port, host: '127.0.0.1' }), { code: 'EADDRINUSE' });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('stops every socket on close() and on server.close(), and closeAcceptors() stops the extra ones', async () => {
    const running = await quietApp().listen({ port: 0, host: '127.0.0.1' });
    await running.close();
    // With any socket left listening, some of these would connect (the kernel balances by 4-tuple).
    const attempts = await Promise.all(Array.from({ length: 32 }, () => tryConnect(running.port)));
    assert.deepEqual(new Set(attempts), new Set(['ECONNREFUSED']));

    // Node's own server.close() stops them too.
    const plain = await quietApp().listen({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => plain.server.close(() => resolve()));
    assert.equal(acceptorCount(plain.server), 1);
    const afterServerClose = await Promise.all(Array.from({ length: 32 }, () => tryConnect(plain.port)));
    assert.deepEqual(new Set(afterServerClose), new Set(['ECONNREFUSED']));
    await plain.close();

    const app = quietApp();
    const again = await app.listen({ port: 0, host: '127.0.0.1' });
    await closeAcceptors(again.server);
    assert.equal(acceptorCount(again.server), 1);
    assert.equal((await send(again.port, new Agent({ keepAlive: false }), 'GET', '/')).status, 200, 'the server\'s own socket still accepts');
    await again.close();
  });

  it('graceful shutdown stops all of them: no connection is accepted once it begins', async () => {
    const app = quietApp();
    const running = await app.listen({ port: 0, host: '127.0.0.1' });
    let exitCode: number | undefined;
    const shutdown = installGracefulShutdown(running.server, { signals: [], exit: (code) => (exitCode = code) });
    try {
      assert.equal(await shutdown.shutdown('test'), 0);
      assert.equal(exitCode, 0);
      const attempts = await Promise.all(Array.from({ length: 32 }, () => tryConnect(running.port)));
      assert.deepEqual(new Set(attempts), new Set(['ECONNREFUSED']));
    } finally {
      // So that a regression fails here instead of leaving sockets that keep the test process alive.
      await closeAcceptors(running.server);
      await app.shutdown();
    }
  });

  it('degrades instead of failing where SO_REUSEPORT is refused (a sandbox, an old kernel)', async () => {
    const refused = Object.assign(new Error('Protocol not available'), { code: 'ENOPROTOOPT' });
    let binds = 0;
    /** Binds for real, except that the `allowed`-th SO_REUSEPORT bind onwards is refused. */
    const bindRefusingAfter = (allowed: number) => (target: NetServer, spec: { port: number; host: string; backlog: number; reusePort?: boolean }): Promise<void> => {
      if (spec.reusePort === true && binds++ >= allowed) return Promise.reject(refused);
      return listenAt(target, spec);
    };
    const answer = () => (_req: unknown, res: { end: (body: string) => void }) => res.end('ok');

    const none = createHttpServer(answer());
    const alone = await listenWithAcceptors(none, { port: 0, host: '127.0.0.1', backlog: 511, acceptors: 16 }, bindRefusingAfter(0));
    assert.equal(alone.sockets, 1);
    assert.match(alone.degraded ?? '', /one socket: SO_REUSEPORT failed \(ENOPROTOOPT\)/);
    const port = (none.address() as { port: number }).port;
    assert.equal((await send(port, new Agent({ keepAlive: false }), 'GET', '/')).status, 200);
    await assert.rejects(listenPlain(port), { code: 'EADDRINUSE' });
    await new Promise<void>((resolve) => none.close(() => resolve()));

    binds = 0;
    const some = createHttpServer(answer());
    const four = await listenWithAcceptors(some, { port: 0, host: '127.0.0.1', backlog: 511, acceptors: 16 }, bindRefusingAfter(4));
    assert.equal(four.sockets, 4);
    assert.equal(acceptorCount(some), 4);
    assert.match(four.degraded ?? '', /4 of 16 sockets/);
    await new Promise<void>((resolve) => some.close(() => resolve()));
    assert.equal(acceptorCount(some), 1);
  });

  it('server.close() calls back only once the connections an extra socket accepted are gone', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const server = createHttpServer((req, res) => {
      // Answered at once (and closed) when the server's own socket accepted it; held otherwise.
      // `_server` is the net.Server that accepted the socket (http overwrites `server` with itself).
      if ((req.socket as unknown as { _server: unknown })._server === server) {
        res.setHeader('connection', 'close');
        res.end('own');
        return;
      }
      void held.then(() => {
        res.setHeader('connection', 'close');
        res.end('extra');
      });
    });
    await listenWithAcceptors(server, { port: 0, host: '127.0.0.1', backlog: 511, acceptors: 16 });
    const port = (server.address() as { port: number }).port;
    const agent = new Agent({ keepAlive: false });
    // Until one lands on an extra socket (each does with probability 15/16), bounded.
    let answer: Promise<{ text: string }> | undefined;
    for (let i = 0; i < 50 && answer === undefined; i++) {
      const attempt = send(port, agent, 'GET', '/');
      const first = await Promise.race([attempt, new Promise<'held'>((resolve) => setTimeout(resolve, 200, 'held'))]);
      if (first === 'held') answer = attempt;
    }
    assert.ok(answer !== undefined, 'a connection was accepted by an extra socket');
    let closed = false;
    const done = new Promise<void>((resolve) => server.close(() => { closed = true; resolve(); }));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(closed, false, 'close() waits while a connection accepted by an extra socket is open');
    release();
    assert.equal((await answer).text, 'extra');
    await done;
    agent.destroy();
  });

  it('keeps to one socket in node:cluster workers, which share the primary\'s handle (PM2 cluster mode)', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [new URL('./fixtures/load/cluster-listen.ts', import.meta.url).pathname, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    const guard = setTimeout(() => child.kill(), 20_000);
    await new Promise((resolve) => child.once('exit', resolve));
    clearTimeout(guard);
    assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1) ?? 'null'), [{ ok: true, sockets: 1 }, { ok: true, sockets: 1 }]);
  });

  it('listens with one plain socket when acceptors is 1', async () => {
    const running = await quietApp(1).listen({ port: 0, host: '127.0.0.1' });
    try {
      assert.equal(acceptorCount(running.server), 1);
      await assert.rejects(listenPlain(running.port), { code: 'EADDRINUSE' });
    } finally {
      await running.close();
    }
  });

  it('refuses a bad acceptors value at construction with a message that says what to do', () => {
    assert.throws(() => quietApp(0), /load\.server\.acceptors must be an integer from 1 to 256, got 0/);
  });

  it('counts the connections waiting in the kernel accept queue while the loop cannot take them', async (t) => {
    const running = await quietApp().listen({ port: 0, host: '127.0.0.1' });
    // 20 connections from another process (the kernel completes them without us), held open.
    const holder = spawn(process.execPath, ['-e', `
      const net = require('node:net');
      for (let i = 0; i < 20; i++) net.connect(${running.port}, '127.0.0.1').on('error', () => {});
      setTimeout(() => process.exit(0), 20000);
    `], { stdio: 'ignore' });
    t.after(() => holder.kill());
    // Block this loop (as a long turn would) and watch the queue fill from /proc, bounded at 10 s.
    const wanted = new Set([running.port]);
    const until = Date.now() + 10_000;
    let queued = 0;
    while (queued < 20 && Date.now() < until) queued = acceptQueueIn(readFileSync('/proc/net/tcp', 'latin1'), wanted);
    assert.equal(queued, 20, 'all 20 wait unaccepted while the loop is blocked');
    // Once the loop turns, vial takes them in and the queue empties.
    let after: number | null = 20;
    while (after !== 0 && Date.now() < until + 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await readAcceptQueue();
    }
    assert.equal(after, 0);
    holder.kill();
    await running.close();
  });
});

describe('which accept-queue tables are read', () => {
  it('reads /proc/net/tcp6 only while a server listens on IPv6 (an empty table costs a walk of the whole connection hash)', async (t) => {
    const v4 = await quietApp().listen({ port: 0, host: '127.0.0.1' });
    t.after(() => v4.close());
    assert.equal(listensOnIPv6(), false);
    let v6: Awaited<ReturnType<Vial['listen']>>;
    try {
      v6 = await quietApp().listen({ port: 0, host: '::1' });
    } catch (error) {
      t.skip(`no IPv6 loopback here (${String(error)})`);
      return;
    }
    assert.equal(listensOnIPv6(), true);
    assert.equal(typeof (await readAcceptQueue()), 'number');
    await v6.close();
    assert.equal(listensOnIPv6(), false);
  });
});

describe('acceptQueueIn (pure)', () => {
  it('sums rx_queue of listening rows on the wanted ports, IPv4 and IPv6 tables alike', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1388 00000000:0000 0A 00000000:00000007 00:00000000 00000000     0        0 648 1',
      '   1: 0100007F:1388 00000000:0000 0A 00000000:0000000C 00:00000000 00000000     0        0 649 1',
      '   2: 0100007F:8AB0 0100007F:1388 01 00000000:00000005 03:0000069F 00000000     0        0 0 3',
      '   3: 00000000:1F90 00000000:0000 0A 00000000:00000009 00:00000000 00000000     0        0 650 1',
    ].join('\n');
    // Port 0x1388 = 5000: two listening rows (7 + 12); the established row and port 8080 do not count.
    assert.equal(acceptQueueIn(tcp, new Set([5000])), 19);
    assert.equal(acceptQueueIn(tcp, new Set([5000, 8080])), 28);
    const tcp6 = '   0: 00000000000000000000000001000000:1388 00000000000000000000000000000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 651 1';
    assert.equal(acceptQueueIn(tcp6, new Set([5000])), 2);
    assert.equal(acceptQueueIn('', new Set([5000])), 0);
  });

  it('tells when a table\'s start has left the listening rows, so the read can stop there', () => {
    const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    const listening = '   0: 0100007F:1388 00000000:0000 0A 00000000:00000007 00:00000000 00000000     0        0 648 1\n';
    const established = '   1: 0100007F:8AB0 0100007F:1388 01 00000000:00000005 03:0000069F 00000000     0        0 0 3\n';
    assert.equal(pastListening(''), false);
    assert.equal(pastListening(header), false);
    assert.equal(pastListening(header + listening), false);
    assert.equal(pastListening(header + listening + '   1: 0100007F:8AB0 0100'), false, 'a cut row is not judged');
    assert.equal(pastListening(header + listening + established), true);
  });
});
