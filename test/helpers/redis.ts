/**
 * A real redis-server for the tests that need one: started on a free loopback port, answered
 * PING before use, killed by pid afterwards. CI installs redis-server (scripts/system-deps.sh);
 * a missing binary fails loudly instead of skipping.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './net.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}


async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // connect() rejects with the same error; the event would only be logged as unhandled.
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING within ${timeoutMs} ms`, { cause: error });
      await sleep(50);
    } finally {
      probe.disconnect();
    }
  }
}

export async function startRedis(timeoutMs = 10_000): Promise<RedisServer> {
  assert.ok(existsSync(REDIS_SERVER), `${REDIS_SERVER} is missing: install it (apt-get install redis-server); CI does.`);
  const port = await freePort();
  const child: ChildProcess = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    await waitForPing(port, timeoutMs);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.pid === undefined || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([exited, sleep(5_000, undefined, { ref: false })]);
    },
  };
}
