/**
 * What a socket's listeners run in and what an open socket keeps: every message and close listener
 * sees its own handshake's request context (`g`, `request`, the ctx), also after an await and with
 * sockets interleaved; a text message relayed as it came goes out byte for byte; and an open socket
 * no longer holds its handshake's ServerResponse; the coarse clock of the per-message bookkeeping ticks
 * only while held.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WebSocket } from 'ws';
import { g, request, websocket } from '../src/index.ts';
import type { Context, RunningServer, Vial } from '../src/index.ts';
import { peekContext } from '../src/context.ts';
import { COARSE_CLOCK_MS, coarseNow, holdCoarseClock, releaseCoarseClock } from '../src/websocket/clock.ts';
import { makeApp } from './helpers/both.ts';
import { pollUntil, waitUntil } from './helpers/wait.ts';
import { open } from './helpers/ws.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(setup: (app: Vial) => void): Promise<{ ws: string; running: RunningServer }> {
  const app = makeApp();
  app.plugin(websocket);
  setup(app);
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(running);
  return { ws: running.url.replace(/^http/, 'ws'), running };
}

describe('websocket coarse clock', () => {
  // First in the file: no socket of another test holds the clock yet.
  it('advances while a socket holds it, and starts again from the current time after the last one let go', async () => {
    holdCoarseClock();
    const start = coarseNow();
    await pollUntil('the coarse clock ticked', () => coarseNow() > start);
    releaseCoarseClock();
    await sleep(COARSE_CLOCK_MS * 2);
    const stopped = coarseNow();
    await sleep(COARSE_CLOCK_MS * 3);
    assert.equal(coarseNow(), stopped, 'no tick once released');
    holdCoarseClock();
    assert.ok(coarseNow() >= stopped + COARSE_CLOCK_MS * 2, 'holding again reads the time at once');
    releaseCoarseClock();
  });
});

describe('websocket listeners run in the handshake request context', () => {
  it("sees its own handshake's g, request and ctx in message and close listeners, also after an await", async () => {
    const closedAs: string[] = [];
    const { ws } = await serve((app) => {
      app.beforeRequest((ctx) => {
        ctx.g['user'] = ctx.request.header('x-user');
      });
      app.get('/who/<room>', { websocket: true }, (ctx) => {
        const handshake: Context = ctx;
        const socket = ctx.websocket;
        socket.onMessage((message) => {
          socket.send(`sync ${String(g['user'])} ${request.path} ${String(peekContext() === handshake)} ${String(message)}`);
        });
        socket.onMessage(async (message) => {
          await sleep(1);
          socket.send(`async ${String(g['user'])} ${String(ctx.params['room'])} ${String(peekContext() === handshake)} ${String(message)}`);
        });
        socket.onClose(() => closedAs.push(String(g['user'])));
      });
    });
    const alice = await open(`${ws}/who/red`, { headers: { 'x-user': 'alice' } });
    const bob = await open(`${ws}/who/blue`, { headers: { 'x-user': 'bob' } });
    // Interleaved, so a context left over from one socket's message would show on the other's.
    alice.ws.send('1');
    bob.ws.send('2');
    alice.ws.send('3');
    const fromAlice = [await alice.next(), await alice.next(), await alice.next(), await alice.next()].sort();
    const fromBob = [await bob.next(), await bob.next()].sort();
    assert.deepEqual(fromAlice, ['async alice red true 1', 'async alice red true 3', 'sync alice /who/red true 1', 'sync alice /who/red true 3']);
    assert.deepEqual(fromBob, ['async bob blue true 2', 'sync bob /who/blue true 2']);
    alice.ws.close();
    bob.ws.close();
    await Promise.all([alice.closed, bob.closed]);
    await waitUntil('both close listeners ran', () => closedAs.length === 2);
    assert.deepEqual(closedAs.sort(), ['alice', 'bob']);
  });
});

describe('websocket text relay', () => {
  it('sends a received text message on byte for byte, to this socket and to a group', async () => {
    const { ws } = await serve((app) => {
      app.get('/room', { websocket: true }, (ctx) => {
        const socket = ctx.websocket;
        socket.join('room');
        socket.onMessage((message) => {
          socket.send(message);
          socket.publish('room', message);
          // A different string right after: sent as itself, not as the message's bytes.
          socket.send(`${String(message)}!`);
        });
      });
    });
    const raw = (url: string): Promise<{ socket: WebSocket; frames: { bytes: Buffer; isBinary: boolean }[] }> =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(url);
        const frames: { bytes: Buffer; isBinary: boolean }[] = [];
        socket.on('message', (data: Buffer, isBinary: boolean) => frames.push({ bytes: data, isBinary }));
        socket.once('open', () => resolve({ socket, frames }));
        socket.once('error', reject);
      });
    const sender = await raw(`${ws}/room`);
    const listener = await raw(`${ws}/room`);
    // A BOM, two- three- and four-byte sequences: decoding and encoding again must not change a byte.
    const text = '\uFEFFé€😀 plain';
    const bytes = Buffer.from(text, 'utf8');
    sender.socket.send(bytes, { binary: false });
    await waitUntil('the echo, the suffixed copy and the group copy arrived', () => sender.frames.length === 2 && listener.frames.length === 1);
    for (const frame of [sender.frames[0], listener.frames[0]]) {
      assert.equal(frame?.isBinary, false);
      assert.deepEqual(frame?.bytes, bytes);
    }
    assert.equal(sender.frames[1]?.bytes.toString('utf8'), `${text}!`);
    sender.socket.close();
    listener.socket.close();
  });
});

describe('websocket memory', () => {
  it("lets an open socket's handshake ServerResponse be collected", async () => {
    const responses: WeakRef<ServerResponse>[] = [];
    const { ws, running } = await serve((app) => {
      app.get('/idle', { websocket: true }, () => undefined);
    });
    running.server.prependListener('request', (req, res: ServerResponse) => {
      if (req.headers.upgrade !== undefined) responses.push(new WeakRef(res));
    });
    const sockets = await Promise.all([open(`${ws}/idle`), open(`${ws}/idle`)]);
    assert.equal(responses.length, 2);
    // Three full collections with turns in between (the handshake's response is let go on a setImmediate).
    for (let i = 0; i < 3; i++) {
      await sleep(5);
      gc();
    }
    assert.deepEqual(
      responses.map((ref) => ref.deref() === undefined),
      [true, true],
      'an idle open socket must not keep its handshake response (and its head buffer, timers) alive',
    );
    for (const socket of sockets) socket.ws.close();
    await Promise.all(sockets.map((socket) => socket.closed));
  });
});
