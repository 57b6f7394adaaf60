/**
 * Slow clients (issue 13, class 8): a client too slow to send its body gets 408 (its fault, RFC
 * 9110 §15.5.9), not the 504 a slow handler gets. The route's deadline is short so the test is
 * quick; what is asserted is the status, not a duration.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Vial } from '../src/index.ts';
import { makeApp } from './helpers/both.ts';
import { rawOpen, rawRequest } from './helpers/raw.ts';

function slowApp(): Vial {
  const app = makeApp({ env: 'development', security: { session: { store: 'memory' } } });
  app.post('/upload', { timeoutMs: 300 }, async (ctx) => ({ length: (await ctx.request.bytes()).length }));
  app.post('/form', { timeoutMs: 300 }, async (ctx) => ({ fields: [...(await ctx.request.form()).fields.keys()] }));
  app.get('/slow-handler', { timeoutMs: 300 }, async (ctx) => {
    await sleep(5_000, undefined, { signal: ctx.signal }).catch(() => undefined);
    return 'late';
  });
  return app;
}

async function listen(t: TestContext, app: Vial): Promise<number> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  return running.port;
}

describe('a body that does not arrive in time', () => {
  for (const [path, type] of [['/upload', 'application/octet-stream'], ['/form', 'application/x-www-form-urlencoded']] as const) {
    it(`answers 408 VIAL_ERR_BODY_TIMEOUT and closes, not 504 (${path})`, async (t) => {
      const port = await listen(t, slowApp());
      const { socket, response } = rawOpen(port);
      // Ten bytes announced, two sent, then nothing: the client stalls mid-body.
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: 10\r\n\r\na=`);
      const res = await response;
      assert.equal(res.status, 408, res.raw);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'VIAL_ERR_BODY_TIMEOUT');
      assert.equal(res.header('connection'), 'close');
    });
  }

  it('answers 408 when the stall is in a form the CSRF guard reads for its token (session cookie, no browser headers)', async (t) => {
    const port = await listen(t, slowApp());
    const { socket, response } = rawOpen(port);
    socket.write('POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: vial_session=planted\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n_c');
    const res = await response;
    assert.equal(res.status, 408, res.raw);
  });

  it('still answers 504 to a handler that is slow by itself', async (t) => {
    const port = await listen(t, slowApp());
    const res = await rawRequest(port, 'GET /slow-handler HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(res.status, 504, res.raw);
  });
});
