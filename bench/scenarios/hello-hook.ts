/**
 * hello with one app-wide before hook, the shape of most real apps (an auth check that puts who is
 * asking on `g`): vial's beforeRequest against Fastify's onRequest hook doing the same
 * (BENCH_HOOK=1 in every server that has one; raw node:http has none, so it stays the limit).
 */
import { FRAMEWORK_TARGETS } from '../lib/index.ts';
import type { Scenario } from '../lib/index.ts';
import { anchors } from '../lib/anchors.ts';

const scenario: Scenario = {
  name: 'hello-hook',
  description: 'GET /hello with an app-wide before hook (auth check on g) on vial and its anchors',
  systems: anchors({ BENCH_HOOK: '1' }),
  load: { path: '/hello', expect: { status: 200, body: '{"hello":"world"}' } },
  targets: FRAMEWORK_TARGETS,
};

export default scenario;
