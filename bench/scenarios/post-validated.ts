/**
 * POST /users with a 10-field JSON body validated against the same JSON Schema: vial's schemas
 * plugin (ajv) against Fastify's built-in validation (ajv), plus vial with the same rules in zod,
 * and raw node:http parsing the JSON without validating as the floor (issue 17).
 */
import type { Scenario } from '../lib/index.ts';
import { createdReply, userBody } from '../servers/user-schema.ts';

const scenario: Scenario = {
  name: 'post-validated',
  description: 'POST /users with a 10-field JSON body validated by one JSON Schema: vial (ajv) vs Fastify (ajv), vial + zod, node:http (parse only)',
  systems: [
    { name: 'vial', server: 'servers/vial-validated.ts' },
    { name: 'fastify', server: 'servers/fastify-validated.ts' },
    { name: 'vial+zod', server: 'servers/vial-validated.ts', env: { BENCH_SCHEMA: 'zod' } },
    { name: 'node:http', server: 'servers/node-http-json.ts' },
    // Diagnosis, no target: the same route reading ctx.request.json() with no schema, so the table
    // separates what validation costs from what vial's POST path costs.
    { name: 'vial (no schema)', server: 'servers/vial-validated.ts', env: { BENCH_SCHEMA: 'none' } },
  ],
  load: {
    path: '/users',
    method: 'POST',
    body: userBody,
    headers: { 'content-type': 'application/json' },
    // The body check proves each system validated and answered the same thing (a 422 would differ).
    expect: { status: 200, body: JSON.stringify(createdReply(4217, 'Ada Lovelace')) },
  },
  targets: [
    { label: 'vial req/s >= 1.0x fastify (same JSON Schema)', system: 'vial', metric: 'rps', op: '>=', factor: 1, of: 'fastify' },
    { label: 'vial req/cpu-s >= 1.0x fastify (same JSON Schema)', system: 'vial', metric: 'rpsPerCpu', op: '>=', factor: 1, of: 'fastify' },
  ],
};

export default scenario;
