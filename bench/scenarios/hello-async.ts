/**
 * hello with an async handler: most real handlers await something, and there the frameworks take
 * other paths than for a synchronous reply (vial leaves its synchronous fast path; Fastify goes
 * through its thenable wrapper). The same anchors and targets as hello (raw node:http has no async
 * path, so its figure is the same limit).
 */
import { FRAMEWORK_TARGETS } from '../lib/index.ts';
import type { Scenario } from '../lib/index.ts';
import { ANCHORS } from '../lib/anchors.ts';

const scenario: Scenario = {
  name: 'hello-async',
  description: 'GET /hello-async -> {"hello":"world"} from an async handler, vial and its anchors',
  systems: ANCHORS,
  load: { path: '/hello-async', expect: { status: 200, body: '{"hello":"world"}' } },
  targets: FRAMEWORK_TARGETS,
};

export default scenario;
