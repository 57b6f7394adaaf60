/**
 * Broadcast: the in-process hub (topics, bounded queues, slow consumers) and the Redis transport
 * between two real processes through a real redis-server started on a free loopback port.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Broadcast } from '../src/websocket/broadcast/hub.ts';
import type { BroadcastMessage, BroadcastSink } from '../src/websocket/broadcast/hub.ts';
import { decodeEnvelope, encodeEnvelope } from '../src/websocket/broadcast/redis.ts';
import { startRedis } from './helpers/redis.ts';
import type { RedisServer } from './helpers/redis.ts';

/** A sink standing in for a socket: `open` says whether its send buffer is under the bound. */
function sink(): BroadcastSink & { received: BroadcastMessage[]; open: boolean; overflowed: number } {
  return {
    received: [],
    open: true,
    overflowed: 0,
    writable() {
      return this.open;
    },
    write(message) {
      this.received.push(message);
    },
    overflow() {
      this.overflowed++;
    },
  };
}

describe('broadcast hub in one process', () => {
  it('delivers a message to every subscriber of its topic and to no other', () => {
    const hub = new Broadcast();
    const [a, b, c] = [sink(), sink(), sink()];
    hub.subscriber(a).join('room:1');
    hub.subscriber(b).join('room:1');
    hub.subscriber(c).join('room:2');
    hub.publish('room:1', 'hello');
    assert.deepEqual([a.received, b.received, c.received], [['hello'], ['hello'], []]);
    assert.equal(hub.stats.delivered, 2);
  });

  it('skips the publishing subscriber when asked', () => {
    const hub = new Broadcast();
    const [a, b] = [sink(), sink()];
    const sa = hub.subscriber(a);
    sa.join('t');
    hub.subscriber(b).join('t');
    hub.publish('t', 'from a', { except: sa });
    assert.deepEqual([a.received, b.received], [[], ['from a']]);
  });

  it('queues in order while the socket is over its bound and flushes when it drains', () => {
    const hub = new Broadcast({ maxQueuedMessages: 10 });
    const a = sink();
    const s = hub.subscriber(a);
    s.join('t');
    hub.publish('t', '1');
    a.open = false;
    hub.publish('t', '2');
    hub.publish('t', '3');
    assert.equal(s.queued, 2);
    a.open = true;
    hub.publish('t', '4');
    assert.deepEqual(a.received, ['1'], 'a new message waits behind the queued ones');
    s.flush();
    assert.deepEqual(a.received, ['1', '2', '3', '4']);
    assert.equal(s.queued, 0);
  });

  it('drops a subscriber whose queue overflows, once, and keeps serving the others', () => {
    const hub = new Broadcast({ maxQueuedMessages: 3 });
    const [slow, fast] = [sink(), sink()];
    slow.open = false;
    const s = hub.subscriber(slow);
    s.join('t');
    s.join('u');
    hub.subscriber(fast).join('t');
    for (let i = 0; i < 5; i++) hub.publish('t', String(i));
    assert.equal(slow.overflowed, 1);
    assert.equal(fast.received.length, 5);
    assert.equal(hub.count('t'), 1, 'the slow subscriber left every topic');
    assert.equal(hub.count('u'), 0);
    assert.equal(hub.stats.droppedSubscribers, 1);
    assert.equal(hub.stats.queued, 0, 'its queue was freed');
  });

  it('keeps memory bounded under a flood to a stalled subscriber', () => {
    const hub = new Broadcast({ maxQueuedMessages: 100 });
    const stalled = sink();
    stalled.open = false;
    const s = hub.subscriber(stalled);
    s.join('t');
    for (let i = 0; i < 99; i++) hub.publish('t', 'x'.repeat(1024));
    assert.equal(s.queued, 99);
    assert.equal(stalled.overflowed, 0);
    hub.publish('t', 'x');
    hub.publish('t', 'x');
    assert.equal(stalled.overflowed, 1);
  });

  it('forgets a topic with its last subscriber, and release() leaves every topic', () => {
    const hub = new Broadcast();
    const s = hub.subscriber(sink());
    s.join('a');
    s.join('b');
    assert.equal(hub.stats.topics, 2);
    s.leave('a');
    assert.equal(hub.stats.topics, 1);
    s.release();
    assert.equal(hub.stats.topics, 0);
    assert.equal(hub.stats.subscribers, 0);
    assert.equal(hub.stats.droppedSubscribers, 0);
  });
});

describe('broadcast envelope', () => {
  it('keeps the frame type and the bytes, and names the publishing hub', () => {
    const id = new Uint8Array(16).fill(7);
    const text = decodeEnvelope(encodeEnvelope(id, 'héllo'));
    assert.equal(text?.message, 'héllo');
    assert.deepEqual([...(text?.from ?? [])], [...id]);
    const binary = decodeEnvelope(encodeEnvelope(id, new Uint8Array([0, 255, 1])));
    assert.ok(binary?.message instanceof Uint8Array);
    assert.deepEqual([...binary.message], [0, 255, 1]);
    assert.equal(decodeEnvelope(Buffer.from('not ours')), undefined);
  });
});

describe('broadcast between two processes through Redis', () => {
  let redis: RedisServer | undefined;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  interface Node {
    readonly child: ChildProcess;
    readonly messages: Record<string, unknown>[];
    next(key: string): Promise<Record<string, unknown>>;
  }

  async function startNode(): Promise<Node> {
    const child = fork(new URL('./fixtures/websocket/broadcast-node.ts', import.meta.url), [redis?.url ?? ''], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const messages: Record<string, unknown>[] = [];
    const waiters: { key: string; resolve: (m: Record<string, unknown>) => void }[] = [];
    child.on('message', (message: Record<string, unknown>) => {
      const waiter = waiters.findIndex((w) => w.key in message);
      if (waiter === -1) messages.push(message);
      else waiters.splice(waiter, 1)[0]?.resolve(message);
    });
    const node: Node = {
      child,
      messages,
      next: (key) => {
        const queued = messages.findIndex((m) => key in m);
        if (queued !== -1) return Promise.resolve(messages.splice(queued, 1)[0] as Record<string, unknown>);
        return new Promise((resolve) => waiters.push({ key, resolve }));
      },
    };
    await node.next('ready');
    return node;
  }

  it('delivers a message published in one process to the subscribers of the other, once, text and binary', async () => {
    const [a, b] = await Promise.all([startNode(), startNode()]);
    try {
      a.child.send({ join: ['alice', 'room'] });
      b.child.send({ join: ['bob', 'room'] });
      b.child.send({ join: ['carol', 'elsewhere'] });
      await Promise.all([a.next('joined'), b.next('joined'), b.next('joined')]);

      a.child.send({ publish: ['room', 'hi from a', 'text'] });
      assert.deepEqual((await a.next('got')).got, ['alice', 'room', 'text', 'hi from a'], 'local subscribers get it at once');
      assert.deepEqual((await b.next('got')).got, ['bob', 'room', 'text', 'hi from a'], 'the other process gets it through Redis');

      b.child.send({ publish: ['room', 'bytes from b', 'binary'] });
      assert.deepEqual((await b.next('got')).got, ['bob', 'room', 'binary', 'bytes from b']);
      assert.deepEqual((await a.next('got')).got, ['alice', 'room', 'binary', 'bytes from b']);

      a.child.send({ close: true });
      b.child.send({ close: true });
      const [statsA, statsB] = await Promise.all([a.next('closed'), b.next('closed')]);
      // Each process received exactly the other's message: no echo of its own, nothing for carol.
      assert.deepEqual(statsA.closed, { published: 1, received: 1, failed: 0 });
      assert.deepEqual(statsB.closed, { published: 1, received: 1, failed: 0 });
      const extra = [...a.messages, ...b.messages].filter((m) => 'got' in m);
      assert.deepEqual(extra, [], 'no other delivery');
    } finally {
      for (const node of [a, b]) if (node.child.exitCode === null && node.child.connected) await once(node.child, 'exit');
    }
  });
});
