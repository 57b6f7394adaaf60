/**
 * Memory (DESIGN.md failure 1): requests with unique keys to a route that stores each one. An
 * unbounded Map grows with every key; a BoundedCache of 10,000 stops growing. Measured through each
 * server's `/__bench/mem` route, which runs a full GC first (servers start with --expose-gc), so
 * heap numbers are live data, not garbage waiting for a collection. vial's unbounded run also has a
 * fast leak alarm, whose `vial:leak` events the server prints; the report shows which line it named.
 */
import { gunicornSystem, isQuick, selected, withSystem } from '../lib/kit.ts';
import { probe } from '../lib/server.ts';
import { formatTable, pct } from '../lib/table.ts';
import { runTraffic } from '../lib/traffic-run.ts';
import type { TrafficReport } from '../lib/traffic.ts';
import type { CheckResult, RunContext, Scenario, ScenarioReport, SystemSpec } from '../lib/index.ts';

const MiB = 1024 * 1024;
const LEAK_ALARM = { memory: { leakAlarm: { warmupMs: 1000, sampleIntervalMs: 500, windowSamples: 6, minGrowthBytes: 4 * MiB } } };
const vialEnv = { BENCH_VIAL_OPTIONS: JSON.stringify(LEAK_ALARM) };
const gc = ['--expose-gc'];

/** Which route each system stores keys in. */
const ROUTES: Record<string, string> = {
  'vial bounded': '/cache',
  'vial unbounded': '/store',
  'node:http + lru-cache': '/cache',
  'fastify unbounded': '/store',
  'flask unbounded (gunicorn -w 1)': '/store',
};

const scenario: Scenario = {
  name: 'memory',
  description: 'unique keys into an unbounded Map vs a bounded cache of 10,000: RSS and post-GC heap before and after; the leak alarm',
  systems: [
    { name: 'vial bounded', server: 'servers/scenario-vial.ts', nodeArgs: gc, env: vialEnv },
    { name: 'vial unbounded', server: 'servers/scenario-vial.ts', nodeArgs: gc, env: vialEnv },
    { name: 'node:http + lru-cache', server: 'servers/scenario-node-http.ts', nodeArgs: gc },
    { name: 'fastify unbounded', server: 'servers/scenario-fastify.ts', nodeArgs: gc },
    gunicornSystem('flask unbounded (gunicorn -w 1)', ['-w', '1']),
  ],
  run,
};

interface Mem {
  readonly rss: number;
  /** Undefined for Flask (no V8 heap). */
  readonly heapUsed: number | undefined;
}

interface Row {
  readonly system: string;
  readonly route: string;
  readonly before: Mem;
  readonly after: Mem;
  readonly load: TrafficReport;
  /** The `leak {json}` lines the server printed (vial only). */
  readonly leaks: readonly string[];
}

async function readMem(url: string): Promise<Mem> {
  const { body } = await probe(url, { path: '/__bench/mem', expect: { status: 200 } }, 30_000);
  const m = JSON.parse(body) as { rss: number; heapUsed?: number };
  return { rss: m.rss, heapUsed: m.heapUsed };
}

async function measure(ctx: RunContext, system: SystemSpec, requests: number, maxMs: number): Promise<Row | undefined> {
  const route = ROUTES[system.name] ?? '/store';
  return withSystem(ctx, system, '/fast', async (server) => {
    // Warm-up with its own keys (JIT, lazy setup), so "before" is a running server, not a cold one.
    await runTraffic({ url: server.url, timeoutMs: 10_000, loads: [{ kind: 'closed', name: 'warmup', path: `${route}?key=w{i}`, connections: 8, totalRequests: 2000 }] }, ctx.pinning);
    const before = await readMem(server.url);
    ctx.say(`  ${system.name}: ${requests.toLocaleString('en-US')} unique keys into ${route}`);
    // A full GC every 500 ms while the keys arrive (the same for every system). It stands in for the
    // major GCs a long-running server has anyway: a run of a few seconds has too few of its own for
    // the leak alarm, which samples the heap floor only after a major GC.
    let polling: Promise<unknown> | undefined;
    const poll = setInterval(() => {
      polling ??= readMem(server.url).catch(() => undefined).finally(() => (polling = undefined));
    }, 500);
    let reports: readonly TrafficReport[];
    try {
      ({ reports } = await runTraffic(
        { url: server.url, timeoutMs: 10_000, loads: [{ kind: 'closed', name: 'keys', path: `${route}?key=k{i}`, connections: 32, totalRequests: requests, durationMs: maxMs }] },
        ctx.pinning,
      ));
    } finally {
      clearInterval(poll);
      await polling;
    }
    // The leak alarm samples every 500 ms: give it a few more samples of the grown heap.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await readMem(server.url);
    const leaks = server.output().split('\n').filter((l) => l.startsWith('leak '));
    return { system: system.name, route, before, after, load: reports[0] as TrafficReport, leaks };
  });
}

const mib = (bytes: number | undefined): string => (bytes === undefined ? '-' : (bytes / MiB).toFixed(1));
const delta = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? '-' : `${b - a >= 0 ? '+' : ''}${((b - a) / MiB).toFixed(1)}`);

async function run(ctx: RunContext): Promise<ScenarioReport> {
  const requests = isQuick(ctx) ? 50_000 : 200_000;
  // Bounded in time too: gunicorn's sync worker opens a connection per request and is much slower.
  const maxMs = isQuick(ctx) ? 15_000 : 180_000;
  const rows: Row[] = [];
  for (const system of ctx.scenario.systems) {
    if (!selected(system.name)) continue;
    const row = await measure(ctx, system, requests, maxMs);
    if (row !== undefined) rows.push(row);
  }
  const lines = formatTable<Row>(
    [
      { title: 'system', value: (r) => r.system },
      { title: 'route', value: (r) => r.route },
      { title: 'ok', value: (r) => `${r.load.statuses['200'] ?? 0}/${r.load.sent}` },
      { title: 'req/s', value: (r) => String(Math.round(r.load.sent / r.load.durationSec)) },
      { title: 'rss before MiB', value: (r) => mib(r.before.rss) },
      { title: 'rss after', value: (r) => mib(r.after.rss) },
      { title: 'rss growth', value: (r) => delta(r.before.rss, r.after.rss) },
      { title: 'heap before MiB', value: (r) => mib(r.before.heapUsed) },
      { title: 'heap after', value: (r) => mib(r.after.heapUsed) },
      { title: 'heap growth', value: (r) => delta(r.before.heapUsed, r.after.heapUsed) },
      { title: 'leak alarm', value: (r) => (r.system.startsWith('vial') ? (r.leaks.length > 0 ? 'fired' : 'silent') : 'n/a') },
    ],
    rows,
  );
  lines.push('', `${requests.toLocaleString('en-US')} requests per system, at most ${maxMs / 1000} s (32 keep-alive connections; gunicorn's sync worker closes each), after 2,000 warm-up requests;`);
  lines.push('a full GC every 500 ms during the load (through /__bench/mem), the same for every system.');
  lines.push('heap = V8 heapUsed after a forced full GC; RSS as the process reports it after that GC (Flask: the worker\'s VmRSS after gc.collect()).');
  lines.push(`vial runs with a fast leak alarm: ${JSON.stringify(LEAK_ALARM)}.`);
  for (const row of rows) for (const leak of row.leaks) lines.push(`${row.system}: ${leak}`);

  const checks: CheckResult[] = [];
  const bounded = rows.find((r) => r.system === 'vial bounded');
  const lru = rows.find((r) => r.system === 'node:http + lru-cache');
  const unbounded = rows.find((r) => r.system === 'vial unbounded');
  if (bounded?.before.heapUsed !== undefined && bounded.after.heapUsed !== undefined) {
    const growth = bounded.after.heapUsed - bounded.before.heapUsed;
    checks.push({ label: 'vial bounded: heap after full GC within 5 MiB of the start', pass: Math.abs(growth) <= 5 * MiB, detail: `${delta(bounded.before.heapUsed, bounded.after.heapUsed)} MiB` });
  }
  if (bounded !== undefined && lru !== undefined) {
    const a = bounded.after.rss - bounded.before.rss;
    const b = lru.after.rss - lru.before.rss;
    checks.push({ label: 'vial bounded: RSS growth below node:http + lru-cache', pass: a < b, detail: `${delta(0, a)} MiB vs ${delta(0, b)} MiB` });
  }
  if (unbounded !== undefined) {
    const sites = unbounded.leaks.flatMap((l) => (JSON.parse(l.slice('leak '.length)) as { sites: { fn: string; at: string }[] }).sites);
    const named = sites.find((site) => site.at.includes('scenario-app.ts'));
    checks.push({
      label: 'vial unbounded: the leak alarm fires and names the storing line',
      pass: named !== undefined,
      detail: named !== undefined ? `${named.fn} at ${named.at}` : sites.length > 0 ? `fired, but named ${sites.map((x) => x.at).join(', ')}` : 'no vial:leak event',
    });
  }
  const warnings = rows.filter((r) => (r.load.statuses['200'] ?? 0) < r.load.sent).map((r) => `${r.system}: only ${pct((r.load.statuses['200'] ?? 0) / r.load.sent)} of the requests answered 200`);
  return { lines, checks, warnings, raw: { requests, leakAlarm: LEAK_ALARM, rows } };
}

export default scenario;
