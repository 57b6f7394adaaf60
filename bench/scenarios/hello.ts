/**
 * The baseline: the cheapest possible JSON route, so any cost vial adds per request shows. vial with
 * every default protection against raw node:http sending its exact bytes, plain Fastify, Fastify
 * sending the same headers, and Fastify with the plugins that give the same protections (issue 16's
 * targets, FRAMEWORK_TARGETS). Run at 100 and at 50 connections (`--connections 50`).
 */
import { FRAMEWORK_TARGETS } from '../lib/index.ts';
import type { Scenario } from '../lib/index.ts';
import { ANCHORS } from '../lib/anchors.ts';

const scenario: Scenario = {
  name: 'hello',
  description: 'GET /hello -> {"hello":"world"} on vial (production defaults) and its anchors: node:http with the same bytes, Fastify plain, with the same headers, with the same protections',
  systems: ANCHORS,
  load: { path: '/hello', expect: { status: 200, body: '{"hello":"world"}' } },
  targets: FRAMEWORK_TARGETS,
};

export default scenario;
