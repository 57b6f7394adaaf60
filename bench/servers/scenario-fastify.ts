/**
 * Fastify serving the same routes as scenario-app.ts; its /cache is lru-cache (max 10,000), which
 * vial's BoundedCache wraps, and /g-after-await keeps the value on the request object, which is
 * how a Fastify app carries per-request state across an await.
 *   BENCH_SLOW=sleep|busy          /slow waits 2 s without blocking (default) or busy-loops 2 s
 *   BENCH_UNDER_PRESSURE=1         registers @fastify/under-pressure as its README suggests:
 *                                  maxEventLoopDelay 1000 ms, event-loop utilisation 0.98, 503
 *                                  with Retry-After while over a limit (sampled every second);
 *                                  `refuse`: a 1-byte heap limit, so every request gets its 503
 * Fastify's defaults otherwise: no request timeout, no concurrency limit.
 */
import underPressure from '@fastify/under-pressure';
import Fastify from 'fastify';
import { LRUCache } from 'lru-cache';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { busyLoop, CPU_ROUTE_MS, storedValue, workPayload } from './busy.ts';
import { announce, benchPort, HOST } from './port.ts';

const app = Fastify();
if (process.env['BENCH_UNDER_PRESSURE'] === '1') {
  await app.register(underPressure, { maxEventLoopDelay: 1000, maxEventLoopUtilization: 0.98, retryAfter: 1 });
} else if (process.env['BENCH_UNDER_PRESSURE'] === 'refuse') {
  // Every request refused (a 1-byte heap limit): what one under-pressure 503 costs (bench overload).
  await app.register(underPressure, { maxHeapUsedBytes: 1, retryAfter: 1 });
}

app.get('/fast', () => ({ fast: true }));
if (process.env['BENCH_SLOW'] === 'busy') app.get('/slow', () => ({ slow: true, spins: busyLoop(2000) }));
else {
  app.get('/slow', async () => {
    await sleep(2000);
    return { slow: true };
  });
}
app.get('/work', async () => {
  await sleep(5);
  return workPayload();
});

app.get('/cpu', () => ({ spins: busyLoop(CPU_ROUTE_MS) }));

// Intentionally unbounded, like vial's /store.
const store = new Map<string, string>();
app.get<{ Querystring: { key?: string } }>('/store', (req) => {
  const key = req.query.key ?? '';
  store.set(key, storedValue(key));
  return { entries: store.size };
});

const cache = new LRUCache<string, string>({ max: 10_000 });
app.get<{ Querystring: { key?: string } }>('/cache', (req) => {
  const key = req.query.key ?? '';
  cache.set(key, storedValue(key));
  return { entries: cache.size };
});

const soakIds = new WeakMap<object, string>();
app.get<{ Querystring: { id?: string } }>('/g-after-await', async (req) => {
  const id = req.query.id ?? '';
  soakIds.set(req, id);
  await sleep(1);
  return { same: soakIds.get(req) === id };
});

app.get('/wait-300', async () => {
  await sleep(300);
  return { waited: 300 };
});

app.get('/__bench/usage', () => ({ pid: process.pid, ...process.memoryUsage(), spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size])) }));

const gc = (globalThis as { gc?: () => void }).gc;
if (gc !== undefined) {
  app.get('/__bench/mem', () => {
    gc();
    return process.memoryUsage();
  });
}

await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
