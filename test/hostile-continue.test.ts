/**
 * Expect: 100-continue (issue 13, class 2; RFC 9110 §10.1.1): the 100 goes out only once the
 * body will be read, after admission, CSRF and the body limit said yes; otherwise the final
 * status comes without a 100. Over raw sockets: the interim response is what is under test.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Vial } from '../src/index.ts';
import { makeApp } from './helpers/both.ts';

function continueApp(): { app: Vial; release: () => void; arrived: Promise<void> } {
  const app = makeApp({ env: 'development', body: { maxBytes: 1024 }, security: { session: { store: 'memory' } } });
  app.post('/upload', async (ctx) => ({ length: (await ctx.request.bytes()).length }));
  let release = (): void => undefined;
  let arrive = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  app.post('/one-at-a-time', { concurrency: 1, maxQueue: 0 }, async (ctx) => {
    if (ctx.request.header('x-hold') === '1') {
      arrive();
      await held;
    }
    return { length: (await ctx.request.bytes()).length };
  });
  return { app, release: () => release(), arrived };
}

async function listen(t: TestContext, app: Vial): Promise<number> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  return running.port;
}

/**
 * Sends the head, waits for the first bytes the server sends (bounded), then sends the body if
 * they were a 100, and returns everything received until the server closes.
 */
function expectContinueExchange(port: number, head: string, body: string): Promise<{ first: string; all: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let all = '';
    let first: string | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer; got ${JSON.stringify(all)}`));
    }, 5000);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      all += chunk.toString('latin1');
      if (first === undefined) {
        first = all;
        if (/^HTTP\/1\.1 100 /.test(first)) socket.write(body);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ first: first ?? '', all });
    });
    socket.write(head);
  });
}

const head = (path: string, length: number, extra = ''): string =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n${extra}Connection: close\r\n\r\n`;

describe('Expect: 100-continue', () => {
  it('sends 100 when the handler reads a body within the limit, then the final answer', async (t) => {
    const port = await listen(t, continueApp().app);
    const { first, all } = await expectContinueExchange(port, head('/upload', 5), 'hello');
    assert.match(first, /^HTTP\/1\.1 100 Continue\r\n/);
    assert.match(all, /HTTP\/1\.1 200 OK[\s\S]*\{"length":5\}/);
  });

  it('answers 413 without 100 to a declared length over the limit', async (t) => {
    const port = await listen(t, continueApp().app);
    const { first, all } = await expectContinueExchange(port, head('/upload', 4096), 'x'.repeat(4096));
    assert.match(first, /^HTTP\/1\.1 413 /);
    assert.doesNotMatch(all, / 100 Continue/);
  });

  it('answers 403 without 100 to a cross-site upload (CSRF before any body)', async (t) => {
    const port = await listen(t, continueApp().app);
    const { first, all } = await expectContinueExchange(port, head('/upload', 5, 'Sec-Fetch-Site: cross-site\r\nOrigin: https://evil.example\r\n'), 'hello');
    assert.match(first, /^HTTP\/1\.1 403 /);
    assert.doesNotMatch(all, / 100 Continue/);
  });

  it('answers 503 without 100 when admission refuses (route bulkhead full)', async (t) => {
    const { app, release, arrived } = continueApp();
    const port = await listen(t, app);
    const holder = expectContinueExchange(port, head('/one-at-a-time', 1, 'x-hold: 1\r\n'), 'a');
    await arrived; // the holder occupies the route's only slot
    const { first, all } = await expectContinueExchange(port, head('/one-at-a-time', 5), 'hello');
    assert.match(first, /^HTTP\/1\.1 503 /);
    assert.doesNotMatch(all, / 100 Continue/);
    release();
    assert.match((await holder).all, /200 OK/);
  });
});
