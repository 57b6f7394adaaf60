/**
 * A ~50 kB JSON reply gzip-compressed per request: vial's compression plugin (on the thread pool,
 * gzip level 4) against Fastify with @fastify/compress (its defaults). Both are asked for gzip
 * only, so they do the same work; the body is checked for status only (it is compressed).
 */
import type { Scenario } from '../lib/index.ts';

const scenario: Scenario = {
  name: 'json-compressed',
  description: 'GET /json50k with Accept-Encoding: gzip -> ~50 kB JSON, gzip, vial + compression plugin vs Fastify + @fastify/compress',
  systems: [
    { name: 'vial', server: 'servers/vial-compressed.ts' },
    { name: 'fastify', server: 'servers/fastify-compressed.ts' },
  ],
  // 4 connections: vial compresses at most 4 replies at once and sends the rest uncompressed
  // (docs/compression.md), so more would compare less work with more.
  load: { path: '/json50k', headers: { 'accept-encoding': 'gzip' }, connections: 4, expect: { status: 200 } },
};

export default scenario;
