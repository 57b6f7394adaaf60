/** The baseline: the cheapest possible JSON route, so any cost vial adds per request shows. */
import { FRAMEWORK_TARGETS } from '../lib/index.ts';
import type { Scenario } from '../lib/index.ts';

const scenario: Scenario = {
  name: 'hello',
  description: 'GET /hello -> {"hello":"world"} on vial (production defaults), Fastify (defaults) and raw node:http',
  systems: [
    { name: 'vial', server: 'servers/vial.ts' },
    { name: 'fastify', server: 'servers/fastify.ts' },
    { name: 'node:http', server: 'servers/node-http.ts' },
  ],
  load: { path: '/hello', expect: { status: 200, body: '{"hello":"world"}' } },
  targets: FRAMEWORK_TARGETS,
};

export default scenario;
