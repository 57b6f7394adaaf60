/**
 * The systems vial's hello figures are judged against (issue 16): vial as users run it, the
 * platform's limit for the same bytes, and Fastify three ways. `env` goes to every system (e.g.
 * BENCH_HOOK=1 for the scenario with an app-wide before hook). Server paths are relative to bench/.
 */
import type { SystemSpec } from './types.ts';

export function anchors(env: Readonly<Record<string, string>> = {}): SystemSpec[] {
  return [
    { name: 'vial', server: 'servers/vial.ts', env },
    { name: 'node:http+headers', server: 'servers/node-http-headers.ts', env },
    { name: 'fastify', server: 'servers/fastify.ts', env },
    { name: 'fastify+headers', server: 'servers/fastify-headers.ts', env },
    { name: 'fastify-full', server: 'servers/fastify-full.ts', env },
  ];
}

export const ANCHORS: readonly SystemSpec[] = anchors();
