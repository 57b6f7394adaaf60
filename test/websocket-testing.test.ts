/**
 * vial/testing's WebSockets: the test client opens them in-process (no port) with its cookie jar
 * and a same-origin Origin, and openWebSocket() opens them against a real server; a refused
 * handshake rejects with its status and JSON body.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { websocket } from '../src/index.ts';
import type { Vial } from '../src/index.ts';
import { openWebSocket, testClient, WebSocketRefusedError } from '../src/testing.ts';
import { makeApp } from './helpers/both.ts';

function chatApp(): Vial {
  const app = makeApp({ security: { session: { store: 'memory', secure: false } } });
  app.plugin(websocket);
  app.post('/login', (ctx) => {
    ctx.session.login('carol');
    return 'ok';
  });
  app.get('/me', { websocket: true }, (ctx) => {
    const socket = ctx.websocket;
    socket.send(`hello ${socket.session.userId ?? 'stranger'}`);
    socket.onMessage((message) => socket.send(`echo:${String(message)}`));
  });
  return app;
}

describe('websocket test client', () => {
  it('opens a socket in-process, with the cookie jar of the HTTP requests before it', async () => {
    const app = chatApp();
    const client = testClient(app);
    const anonymous = await client.websocket('/me');
    assert.equal(await anonymous.next(), 'hello stranger');
    await anonymous.close();
    assert.equal((await client.post('/login')).status, 200);
    const socket = await client.websocket('/me');
    assert.equal(await socket.next(), 'hello carol');
    socket.send('ping');
    assert.equal(await socket.next(), 'echo:ping');
    assert.equal((await socket.close()).code, 1000);
    await app.shutdown();
  });

  it('rejects a refused handshake with its status and error body (a cross-site page here)', async () => {
    const app = chatApp();
    const client = testClient(app);
    await assert.rejects(client.websocket('/me', { crossSite: true }), (error: unknown) => {
      assert.ok(error instanceof WebSocketRefusedError);
      assert.equal(error.status, 403);
      assert.equal(error.json().error.code, 'VIAL_ERR_WS_ORIGIN');
      return true;
    });
    await app.shutdown();
  });

  it('opens a socket over a real connection with openWebSocket()', async () => {
    const app = chatApp();
    const running = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const socket = await openWebSocket(`${running.url.replace(/^http/, 'ws')}/me`);
      assert.equal(await socket.next(), 'hello stranger');
      await socket.close();
    } finally {
      await running.close();
    }
  });
});
