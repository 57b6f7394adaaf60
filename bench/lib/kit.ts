/**
 * Helpers shared by the custom scenarios (pool-exhaustion, blocking-route, overload, memory):
 * scale (`--quick`), running one server at a time with cleanup, external servers (gunicorn,
 * `vial run --workers`), and formatting.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { vialCli } from './build.ts';
import { BENCH_DEFAULTS } from './options.ts';
import { probe, startServer } from './server.ts';
import type { StartedServer } from './server.ts';
import type { LatencySummary, TrafficReport } from './traffic.ts';
import type { RunContext, SystemSpec } from './types.ts';

/** `--quick` (or any shorter `--duration` than the default): the smoke-test scale of a scenario. */
export function isQuick(ctx: RunContext): boolean {
  return ctx.config.durationSec < BENCH_DEFAULTS.durationSec;
}

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

export const GUNICORN = ['/usr/bin/gunicorn', '/usr/local/bin/gunicorn'].find((p) => existsSync(p));

/** A system served by gunicorn from bench/servers/flask_app.py, through servers/external.ts. */
export function gunicornSystem(name: string, gunicornArgs: readonly string[], env: Readonly<Record<string, string>> = {}): SystemSpec {
  return {
    name,
    server: 'servers/external.ts',
    // --graceful-timeout 1: a worker sleeping in /slow must not hold the shutdown for 30 s.
    args: [GUNICORN ?? 'gunicorn', ...gunicornArgs, '--graceful-timeout', '1', '--log-level', 'warning', '-b', '127.0.0.1:{port}', 'flask_app:app'],
    // No __pycache__ left in bench/servers/.
    env: { PYTHONDONTWRITEBYTECODE: '1', ...env },
  };
}

/**
 * A system served by `vial run <app> [--workers N]` from the built CLI (dist/cli/main.js, as users
 * run it), through servers/external.ts. `workers` 0: one process, no supervisor.
 */
export function vialRunSystem(name: string, app: string, workers: number, env: Readonly<Record<string, string>> = {}, extraArgs: readonly string[] = []): SystemSpec {
  return {
    name,
    server: 'servers/external.ts',
    args: [process.execPath, vialCli(BENCH_DIR), 'run', app, ...(workers > 0 ? ['--workers', String(workers)] : []), '--port', '{port}', '--graceful-timeout-ms', '1000', ...extraArgs],
    env: { VIAL_LOG_LEVEL: 'warn', ...env },
  };
}

export function needsGunicorn(system: SystemSpec): boolean {
  return system.args?.some((a) => a.endsWith('gunicorn')) ?? false;
}

/**
 * Starts one system, checks that `GET checkPath` answers 200, runs `fn`, and always stops the server
 * by its pid. Returns undefined (with a printed note) for a gunicorn system when gunicorn is missing.
 */
export async function withSystem<T>(ctx: RunContext, system: SystemSpec, checkPath: string, fn: (server: StartedServer) => Promise<T>): Promise<T | undefined> {
  if (!selected(system.name)) return undefined;
  if (needsGunicorn(system) && GUNICORN === undefined) {
    ctx.say(`  ${system.name}: skipped (gunicorn is not installed: apt-get install gunicorn python3-flask)`);
    return undefined;
  }
  ctx.say(`  ${system.name}: starting`);
  const server = await startServer(system, { benchDir: ctx.benchDir, pinning: ctx.pinning, readyTimeoutMs: 40_000 });
  try {
    await probe(server.url, { path: checkPath, expect: { status: 200 } });
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** `BENCH_ONLY=vial,fastify` runs only those systems of a custom scenario (for a quick look at one). */
export function selected(name: string): boolean {
  const only = process.env['BENCH_ONLY'];
  return only === undefined || only === '' || only.split(',').map((s) => s.trim()).includes(name);
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** Socket errors, timeouts, answers other than 200, and requests never sent. */
export function failures(r: TrafficReport): number {
  let n = r.errors.connect + r.errors.read + r.errors.timeout + r.unsent;
  for (const [status, count] of Object.entries(r.statuses)) if (status !== '200') n += count;
  return n;
}

/** `503:12 timeout:3` */
export function failureDetail(r: TrafficReport): string {
  const parts: string[] = [];
  for (const [status, count] of Object.entries(r.statuses)) if (status !== '200') parts.push(`${status}:${count}`);
  for (const [kind, count] of Object.entries(r.errors)) if (count > 0) parts.push(`${kind}:${count}`);
  if (r.unsent > 0) parts.push(`unsent:${r.unsent}`);
  return parts.length === 0 ? '0' : parts.join(' ');
}

export function latencyCells(l: LatencySummary): [string, string, string] {
  return [ms(l.p50), ms(l.p99), ms(l.max)];
}
