/**
 * Raw node:http for the load and memory scenarios: /fast, /slow (a 2 s busy loop: nothing in
 * node:http can help with it), /cache (lru-cache, max 10,000: what a careful Node developer writes
 * without a framework) and /__bench/mem under --expose-gc.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import { busyLoop, storedValue } from './busy.ts';
import { listenAndAnnounce } from './port.ts';

const cache = new LRUCache<string, string>({ max: 10_000 });
const gc = (globalThis as { gc?: () => void }).gc;

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/fast') return send(res, 200, { fast: true });
  if (url.pathname === '/slow') return send(res, 200, { slow: true, spins: busyLoop(2000) });
  if (url.pathname === '/cache') {
    const key = url.searchParams.get('key') ?? '';
    cache.set(key, storedValue(key));
    return send(res, 200, { entries: cache.size });
  }
  if (url.pathname === '/__bench/mem' && gc !== undefined) {
    gc();
    return send(res, 200, process.memoryUsage());
  }
  return send(res, 404, { error: 'not found' });
});

listenAndAnnounce(server);
