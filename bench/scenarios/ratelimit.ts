/**
 * What an app-wide per-IP rate limit costs on the hello route: vial without one, with one on the
 * memory store, and with one on Redis (a redis-server the server script starts on the generator's
 * core). Every request is counted, none refused (servers/ratelimit.ts). Compare req/cpu-s: the
 * server's CPU per request, steady on a shared machine. Target: the memory store costs at most 5%
 * with the defaults (RateLimit headers only on a 429); the +headers row shows what `headers: true`
 * adds (every reply then leaves the prebuilt-head fast path).
 */
import type { Scenario } from '../lib/index.ts';

const scenario: Scenario = {
  name: 'ratelimit',
  description: 'GET /hello on vial without a rate limit, with a per-IP limit on the memory store, and on Redis',
  systems: [
    { name: 'vial', server: 'servers/vial.ts' },
    { name: 'vial+limit memory', server: 'servers/ratelimit.ts', args: ['memory'] },
    { name: 'vial+limit memory+headers', server: 'servers/ratelimit.ts', args: ['memory'], env: { BENCH_RATELIMIT_HEADERS: '1' } },
    { name: 'vial+limit redis', server: 'servers/ratelimit.ts', args: ['redis'] },
  ],
  load: { path: '/hello', expect: { status: 200, body: '{"hello":"world"}' } },
  targets: [{ label: 'memory-store limit costs <= 5% (req/cpu-s)', system: 'vial+limit memory', metric: 'rpsPerCpu', op: '>=', factor: 0.95, of: 'vial' }],
};

export default scenario;
