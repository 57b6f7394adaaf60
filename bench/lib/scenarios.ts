/** Finding and checking scenario files in bench/scenarios/. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VialError } from '../../src/errors.ts';
import type { Scenario } from './types.ts';

export function listScenarios(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .toSorted();
}

/** Imports `bench/scenarios/<name>.ts` and checks its default export. */
export async function loadScenario(dir: string, name: string): Promise<Scenario> {
  const file = join(dir, `${name}.ts`);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !existsSync(file)) {
    throw new VialError(
      'VIAL_ERR_BENCH_SCENARIO',
      `bench: no scenario "${name}". Available: ${listScenarios(dir).join(', ')}. Add one as bench/scenarios/<name>.ts (see bench/README.md).`,
    );
  }
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  return validateScenario(module.default, file);
}

/** Checks the shape of a scenario module's default export (pure). */
export function validateScenario(value: unknown, where: string): Scenario {
  const problems: string[] = [];
  const s = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof s['name'] !== 'string' || s['name'] === '') problems.push('`name` must be a non-empty string');
  if (typeof s['description'] !== 'string') problems.push('`description` must be a string');
  const systems = s['systems'];
  if (!Array.isArray(systems) || systems.length === 0) problems.push('`systems` must list at least one { name, server }');
  else {
    const names = new Set<unknown>();
    for (const sys of systems as unknown[]) {
      const o = (typeof sys === 'object' && sys !== null ? sys : {}) as Record<string, unknown>;
      if (typeof o['name'] !== 'string' || typeof o['server'] !== 'string') problems.push('every system needs a string `name` and `server`');
      else if (names.has(o['name'])) problems.push(`system name "${o['name']}" appears twice`);
      names.add(o['name']);
    }
  }
  const load = s['load'] as Record<string, unknown> | undefined;
  if (load !== undefined && (typeof load !== 'object' || typeof load['path'] !== 'string' || !load['path'].startsWith('/'))) {
    problems.push('`load.path` must be a string starting with "/"');
  }
  if (load === undefined && typeof s['run'] !== 'function') problems.push('give it a `load` or a `run(ctx)`');
  if (problems.length > 0) {
    throw new VialError('VIAL_ERR_BENCH_SCENARIO', `bench: ${where} must default-export a Scenario: ${problems.join('; ')}.`);
  }
  return value as Scenario;
}
