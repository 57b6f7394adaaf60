/**
 * Where the hello benchmark's time goes: vial as shipped, vial without compression and ETags (on by
 * default, skipped for a reply this small), without its security headers, without
 * its per-request metrics, with the admin listener on (as `vial run` starts it), vial's
 * handler alone on a plain server (no server limits, monitors or metrics), and Fastify and raw
 * node:http each with and without the same headers. Compare the rows of one run with each other.
 */
import type { Scenario } from '../lib/index.ts';

const scenario: Scenario = {
  name: 'hello-breakdown',
  description: 'GET /hello on vial with one cost removed at a time, next to node:http with and without the same headers',
  systems: [
    { name: 'vial', server: 'servers/vial.ts' },
    // What compression and ETags, on by default, cost a reply too small for either (issue 18).
    { name: 'vial no-compress/etag', server: 'servers/vial.ts', env: { BENCH_VIAL_OPTIONS: '{"compression":false,"conditional":false}' } },
    { name: 'vial no-headers', server: 'servers/vial-variant.ts', args: ['no-headers'] },
    { name: 'vial no-metrics', server: 'servers/vial-variant.ts', args: ['no-metrics'] },
    { name: 'vial +admin', server: 'servers/vial-variant.ts', args: ['admin'] },
    { name: 'vial bare', server: 'servers/vial-variant.ts', args: ['bare'] },
    { name: 'fastify', server: 'servers/fastify.ts' },
    { name: 'fastify+headers', server: 'servers/fastify-headers.ts' },
    { name: 'node:http+headers', server: 'servers/node-http-headers.ts' },
    { name: 'node:http', server: 'servers/node-http.ts' },
  ],
  load: { path: '/hello', expect: { status: 200, body: '{"hello":"world"}' } },
};

export default scenario;
