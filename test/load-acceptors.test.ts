import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { connect, createServer } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { Vial } from '../src/index.ts';
import { acceptorCount, acceptorsSupported, closeAcceptors } from '../src/load/acceptors.ts';
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

function listenPlain(port: number): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    const other = createServer();
    other.once('error', reject);
    other.listen({ port, host: '127.0.0.1' }, () => resolve(other));
  });
}

void describe('accept sockets (load.server.acceptors)', { skip: !acceptorsSupported() && 'SO_REUSEPORT balancing is Linux-only' }, () => {
  void it('listens with 16 sockets by default and answers connections that arrive on any of them', async () => {
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

  void it('never shares its port with a second process: a later plain bind fails, and so does listening on a taken port', async () => {
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

  void it('stops every socket on close() and on server.close(), and closeAcceptors() stops the extra ones', async () => {
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
    closeAcceptors(again.server);
    assert.equal(acceptorCount(again.server), 1);
    assert.equal((await send(again.port, new Agent({ keepAlive: false }), 'GET', '/')).status, 200, 'the server\'s own socket still accepts');
    await again.close();
  });

  void it('graceful shutdown stops all of them: no connection is accepted once it begins', async () => {
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
      closeAcceptors(running.server);
      await app.shutdown();
    }
  });

  void it('listens with one plain socket when acceptors is 1', async () => {
    const running = await quietApp(1).listen({ port: 0, host: '127.0.0.1' });
    try {
      assert.equal(acceptorCount(running.server), 1);
      await assert.rejects(listenPlain(running.port), { code: 'EADDRINUSE' });
    } finally {
      await running.close();
    }
  });

  void it('refuses a bad acceptors value at construction with a message that says what to do', () => {
    assert.throws(() => quietApp(0), /load\.server\.acceptors is 0; it must be an integer between 1 and 256/);
  });
});
