/**
 * Sockets in two processes see each other's messages through a real redis-server (started by the
 * test on a free loopback port): a socket on process A publishes to its room, a socket of the same
 * room on process B receives it; an HTTP route's publish reaches both.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { startRedis } from './helpers/redis.ts';
import type { RedisServer } from './helpers/redis.ts';
import { waitUntil } from './helpers/wait.ts';
import { open } from './helpers/ws.ts';

let redis: RedisServer | undefined;
const children: ChildProcess[] = [];

async function node(): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(new URL('./fixtures/websocket/chat-node.ts', import.meta.url), [redis?.url ?? ''], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const [message] = (await once(child, 'message')) as [{ url: string }];
  return { child, url: message.url };
}

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const child of children) {
    if (child.exitCode !== null || !child.connected) continue;
    const exited = once(child, 'exit');
    child.send({ close: true });
    await exited;
  }
  await redis?.stop();
});

describe('websocket broadcast across processes (Redis)', () => {
  it("delivers a socket's message to the room's sockets in the other process, and an HTTP publish to both", async () => {
    const [a, b] = await Promise.all([node(), node()]);
    const onA = await open(`${a.url.replace(/^http/, 'ws')}/rooms/lobby`);
    const onB = await open(`${b.url.replace(/^http/, 'ws')}/rooms/lobby`);
    const elsewhere = await open(`${b.url.replace(/^http/, 'ws')}/rooms/other`);
    for (const socket of [onA, onB, elsewhere]) assert.equal(await socket.next(), 'joined');
    onA.ws.send('hello from A');
    const fromA = await onB.next();
    assert.equal(fromA, `${a.child.pid}:hello from A`);
    // The sender does not get its own message back, nor does another room.
    onB.ws.send('hello from B');
    assert.equal(await onA.next(), `${b.child.pid}:hello from B`);
    const announce = await fetch(`${a.url}/rooms/lobby/announce`, { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } });
    assert.equal(announce.status, 200);
    assert.equal(await onA.next(), 'announcement');
    assert.equal(await onB.next(), 'announcement');
    await waitUntil('the messages to settle', () => onA.messages.length === 3 && onB.messages.length === 3);
    assert.deepEqual(elsewhere.messages, ['joined']);
    for (const socket of [onA, onB, elsewhere]) socket.ws.close();
  });
});
