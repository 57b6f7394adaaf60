/**
 * The hello app (servers/hello-app.ts: built package, production defaults) with an app-wide
 * per-IP rate limit, for the ratelimit scenario. The variant is argv[3]:
 *   memory   rateLimit on the default memory store
 *   redis    rateLimit on a RedisRateLimitStore; this script starts its own redis-server on a free
 *            port, pinned to CPU 1 (the load generator's core: the server's core stays the app's,
 *            as with Redis on another machine), and kills it by pid when stopped
 * BENCH_RATELIMIT_HEADERS=1 sends the RateLimit headers on every response (`headers: true`).
 * The limit is far above what the bench sends (10^9 a minute), so every request is counted and
 * none refused: the scenario measures what counting costs.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { app } from './hello-app.ts';
import { vial } from './vial-package.ts';
import { announce, benchPort, HOST } from './port.ts';

const variant = process.argv[3] ?? '';
if (variant !== 'memory' && variant !== 'redis') throw new Error(`ratelimit server: variant is memory or redis, got "${variant}"`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject).listen(0, HOST, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

let stopRedis = (): void => undefined;
let store: InstanceType<typeof vial.RedisRateLimitStore> | undefined;
if (variant === 'redis') {
  const port = await freePort();
  const child = spawn('taskset', ['-c', '1', '/usr/bin/redis-server', '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  stopRedis = () => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  };
  process.once('exit', stopRedis);
  store = new vial.RedisRateLimitStore({ client: `redis://${HOST}:${port}` });
  // Wait until the store answers (redis-server takes a moment to listen).
  for (let i = 0; ; i++) {
    try {
      await store.hit('bench-probe', { limit: 1, windowMs: 1000 }, 0);
      break;
    } catch (error) {
      if (i > 100) throw error;
      await sleep(50);
    }
  }
}

app.plugin(vial.rateLimit, { limit: 1_000_000_000, windowSec: 60, headers: process.env['BENCH_RATELIMIT_HEADERS'] === '1', ...(store === undefined ? {} : { store }) });
const running = await app.listen({ port: benchPort(), host: HOST });
announce(running.port, async () => {
  await running.close();
  stopRedis();
});
