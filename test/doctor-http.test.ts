/**
 * The doctor's HTTP client against a server that answers early and resets: the answer counts, and
 * the late write error on the reset socket must not end the process (it did, through an unhandled
 * 'error' on the socket, in a CI run of the doctor on Node 22; this reproduces it without the guard).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { makeAgent, send } from '../src/cli/doctor/http.ts';

describe('doctor send()', () => {
  it('keeps the 413 a server sent before resetting the connection mid-body, with no uncaught error', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        if (head.includes('\r\n\r\n')) return;
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        // Keep-alive framing, so the client hands the socket back to its agent before the reset.
        socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n');
        setTimeout(() => socket.resetAndDestroy(), 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const agent = makeAgent(base, 4);
    const uncaught: Error[] = [];
    const onUncaught = (err: Error): void => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < 20; i++) {
        const answer = await send(base, '/upload', { method: 'POST', body: Buffer.alloc(4 * 1024 * 1024, 0x61), agent, timeoutMs: 10_000 });
        // The reset can beat the 413 to the client; either way it is an answer, never a crash.
        assert.ok(answer.status === 413 || answer.error === 'ECONNRESET', `got ${answer.status} ${answer.error}`);
      }
      // Let the resets and the failing writes land.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(uncaught.map((e) => e.message), []);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      agent.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
