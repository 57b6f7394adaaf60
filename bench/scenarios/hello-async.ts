/**
 * hello with an async handler: most real handlers await something, and there the frameworks take
 * other paths than for a synchronous reply (vial leaves its synchronous fast path; Fastify goes
 * through its thenable wrapper). No target: it shows where the hello gap comes from.
 */
import type { Scenario } from '../lib/index.ts';

const scenario: Scenario = {
  name: 'hello-async',
  description: 'GET /hello-async -> {"hello":"world"} from an async handler, vial (production defaults) and Fastify (defaults)',
  systems: [
    { name: 'vial', server: 'servers/vial.ts' },
    { name: 'fastify', server: 'servers/fastify.ts' },
  ],
  load: { path: '/hello-async', expect: { status: 200, body: '{"hello":"world"}' } },
};

export default scenario;
