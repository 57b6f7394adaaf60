/**
 * A finished request's context must not outlive it on a keep-alive connection: the reply is
 * written outside the request's AsyncLocalStorage scope, so Node's follow-ups of the write (its
 * completion, the keep-alive timer) do not capture the context (dispatch.ts begin).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Vial } from '../src/index.ts';
import type { Context } from '../src/index.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function collected(ref: WeakRef<object>): Promise<boolean> {
  // WeakRef targets stay alive until the current job ends (ECMA-262 ClearKeptObjects): yield first.
  for (let i = 0; i < 20 && ref.deref() !== undefined; i++) {
    await nextTurn();
    gc();
  }
  return ref.deref() === undefined;
}

function get(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (end !== -1 && length !== null && text.length >= end + 4 + Number(length[1])) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe('a keep-alive connection and its last request', () => {
  for (const [name, route] of [
    ['a plain reply (the fast path)', '/plain'],
    ['a reply after a before hook', '/hooked'],
  ] as const) {
    it(`does not keep the request's context alive after ${name}`, async (t) => {
      const app = new Vial({ env: 'test', log: { level: 'warn' } });
      let last: WeakRef<Context> | undefined;
      const remember = (ctx: Context): { ok: true } => {
        last = new WeakRef(ctx);
        ctx.g['big'] = new Array(1000).fill('x');
        return { ok: true };
      };
      app.get(route, remember);
      if (route === '/hooked') {
        app.beforeRequest((ctx) => {
          ctx.g['hooked'] = true;
        });
      }
      const running = await app.listen({ port: 0, host: '127.0.0.1' });
      t.after(() => running.close());
      const socket = connect(running.port, '127.0.0.1');
      t.after(() => socket.destroy());
      await new Promise((resolve) => socket.once('connect', resolve));
      assert.match(await get(socket, route), /^HTTP\/1\.1 200/);
      assert.ok(last !== undefined);
      assert.equal(await collected(last), true, 'the open connection still holds the finished request\'s ctx');
      // The connection still works.
      assert.match(await get(socket, route), /^HTTP\/1\.1 200/);
    });
  }
});
