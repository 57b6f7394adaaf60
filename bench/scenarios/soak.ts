/**
 * Soak (issue 16, "Under a soak"): 5 minutes of mixed open-loop traffic at 400 req/s (`--quick`:
 * 60 s), a quarter each on a cheap route (/fast), a BoundedCache fed unique keys (/cache, 10,000
 * entries: full after 100 s), a route that reads `g` after an await (/g-after-await) and a 300 ms
 * non-blocking wait (/wait-300). Every ~10 s the harness reads the RSS of the serving process and
 * of each of its descendants from /proc (for `vial run --workers 2`: the primary and each worker),
 * and the V8 heap through `GET /__bench/usage` (no forced GC: a GC every 10 s would change what a
 * soak measures). The table shows the series per minute; the checks ask for flat RSS after the
 * second minute and for one vial process no larger than Fastify under the same traffic.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { failureDetail, isQuick, selected, vialRunSystem, withSystem } from '../lib/kit.ts';
import { descendants, readProc } from '../lib/proc.ts';
import { probe } from '../lib/server.ts';
import type { StartedServer } from '../lib/server.ts';
import { formatTable, num } from '../lib/table.ts';
import { runTraffic } from '../lib/traffic-run.ts';
import type { OpenLoad, TrafficReport } from '../lib/traffic.ts';
import type { CheckResult, RunContext, Scenario, ScenarioReport, SystemSpec } from '../lib/index.ts';

const MiB = 1024 * 1024;
const RATE_PER_SEC = 400;
const SAMPLE_EVERY_MS = 10_000;
/**
 * "Flat" after the second minute, per process: the highest RSS reading of the last minute at most
 * this far above the highest of the second minute. Peaks, not single readings: V8 resizes its heap
 * in steps (the young generation doubles 16 -> 32 -> 64 MiB and shrinks again; old-generation pages
 * come and go with major GCs), so one process's RSS saws by 20-60 MiB with no leak at all (seen in
 * Fastify's series too), and a reading taken in a trough would hide growth. A leak sets new highs:
 * 1 KiB per request at 400 req/s adds 70 MiB between minute 2 and minute 5, and the growth first
 * measured for issue 16 was ~160 MiB. 8 MiB leaves room for a few allocator and code-space steps.
 * `BENCH_SOAK_FLAT_MIB` overrides it.
 */
const FLAT_BOUND_MIB = Number(process.env['BENCH_SOAK_FLAT_MIB'] ?? 8);

/** Four routes, a quarter of the rate each; the 300 ms route needs ~30 connections at 100/s. */
function loads(durationMs: number): OpenLoad[] {
  const share = RATE_PER_SEC / 4;
  const load = (name: string, path: string, maxConnections: number): OpenLoad => ({ kind: 'open', name, path, ratePerSec: share, durationMs, maxConnections });
  return [
    load('fast', '/fast', 16),
    load('cache', '/cache?key=soak-{i}', 16),
    load('g-after-await', '/g-after-await?id={i}', 16),
    load('wait-300', '/wait-300', 64),
  ];
}

const scenario: Scenario = {
  name: 'soak',
  description: `mixed open-loop traffic at ${RATE_PER_SEC} req/s for 5 minutes (--quick: 60 s): RSS per process every 10 s, flat after the second minute, vial vs Fastify`,
  systems: [
    { name: 'vial', server: 'servers/scenario-vial.ts' },
    { name: 'fastify', server: 'servers/scenario-fastify.ts' },
    // --admin-port 0: the admin listener `vial run` starts by default, on a free port.
    vialRunSystem('vial run --workers 2', 'scenario-app.ts', 2, {}, ['--admin-port', '0']),
  ],
  run,
};

interface Sample {
  /** Seconds since the load started (0: just before). */
  readonly atSec: number;
  /** RSS by pid: the serving process first, then its descendants. */
  readonly rss: Readonly<Record<string, number>>;
  /** V8 heapUsed by pid, for the processes that answered /__bench/usage this time. */
  readonly heapUsed: Readonly<Record<string, number>>;
  /** Committed young generation (new_space + new_large_object_space) by pid, from the same reading. */
  readonly young: Readonly<Record<string, number>>;
}

interface Run {
  readonly system: string;
  readonly servingPid: number;
  readonly samples: readonly Sample[];
  readonly reports: readonly TrafficReport[];
  readonly generatorCpu: number;
  readonly leaks: readonly string[];
}

/** The process that serves: the command external.ts started (it prints `child <pid>`), else the server. */
function servingPid(server: StartedServer): number {
  const match = /^child (\d+)$/m.exec(server.output());
  return match === null ? server.pid : Number(match[1]);
}

/** Heap per pid: under `vial run --workers` each probe's fresh connection may land on another worker. */
async function readHeaps(url: string, pids: number): Promise<{ heapUsed: Record<string, number>; young: Record<string, number> }> {
  const heapUsed: Record<string, number> = {};
  const young: Record<string, number> = {};
  for (let attempt = 0; attempt < pids * 3 && Object.keys(heapUsed).length < pids; attempt++) {
    try {
      const { body } = await probe(url, { path: '/__bench/usage', expect: { status: 200 } }, 5000);
      const usage = JSON.parse(body) as { pid: number; heapUsed: number; spaces?: Record<string, number> };
      heapUsed[String(usage.pid)] = usage.heapUsed;
      if (usage.spaces !== undefined) young[String(usage.pid)] = (usage.spaces['new_space'] ?? 0) + (usage.spaces['new_large_object_space'] ?? 0);
    } catch {
      // intentionally skipped: a missed heap reading leaves a gap, the RSS series is what is judged
    }
  }
  return { heapUsed, young };
}

async function sample(server: StartedServer, pid: number, atSec: number): Promise<Sample> {
  const rss: Record<string, number> = {};
  for (const p of [pid, ...descendants(pid)]) {
    const reading = readProc(p);
    if (reading !== undefined) rss[String(p)] = reading.rssBytes;
  }
  // The primary of `vial run --workers` serves no requests: only its workers have a heap to read.
  const serving = Object.keys(rss).length > 1 ? Object.keys(rss).length - 1 : 1;
  return { atSec, rss, ...(await readHeaps(server.url, serving)) };
}

async function soak(ctx: RunContext, system: SystemSpec, durationMs: number): Promise<Run | undefined> {
  return withSystem(ctx, system, '/fast', async (server) => {
    const pid = servingPid(server);
    const samples: Sample[] = [await sample(server, pid, 0)];
    const started = performance.now();
    let sampling: Promise<void> | undefined;
    const timer = setInterval(() => {
      sampling ??= sample(server, pid, Math.round((performance.now() - started) / 1000))
        .then((s) => void samples.push(s))
        .finally(() => (sampling = undefined));
    }, SAMPLE_EVERY_MS);
    let result;
    try {
      result = await runTraffic({ url: server.url, timeoutMs: 10_000, loads: loads(durationMs) }, ctx.pinning);
    } finally {
      clearInterval(timer);
      await sampling;
    }
    samples.push(await sample(server, pid, Math.round((performance.now() - started) / 1000)));
    if (!server.alive()) throw new Error(`soak: ${system.name} exited during the run.\n${server.output()}`);
    const last = samples.at(-1);
    ctx.say(`  ${system.name}: RSS ${last === undefined ? '-' : Object.values(last.rss).map((b) => num(b / MiB, 1)).join(' + ')} MiB at the end`);
    const leaks = server.output().split('\n').filter((l) => l.startsWith('leak '));
    return { system: system.name, servingPid: pid, samples, reports: result.reports, generatorCpu: result.generatorCpu, leaks };
  });
}

/** One series to show: a process (or the sum of several) over time. */
interface Series {
  readonly label: string;
  readonly system: string;
  readonly rss: readonly { atSec: number; bytes: number }[];
  readonly heapUsed: readonly { atSec: number; bytes: number }[];
  readonly young: readonly { atSec: number; bytes: number }[];
}

/** The serving process of one-process systems; for `vial run`: the whole tree, the primary, and each worker. */
function seriesOf(run: Run): Series[] {
  const pids = new Set<string>();
  for (const s of run.samples) for (const p of Object.keys(s.rss)) pids.add(p);
  const primary = String(run.servingPid);
  const points = (pick: (s: Sample) => number | undefined): { atSec: number; bytes: number }[] =>
    run.samples.flatMap((s) => { const b = pick(s); return b === undefined ? [] : [{ atSec: s.atSec, bytes: b }]; });
  const one = (label: string, pick: (s: Sample) => number | undefined, pid?: string): Series => ({
    label, system: run.system, rss: points(pick),
    heapUsed: pid === undefined ? [] : points((s) => s.heapUsed[pid]),
    young: pid === undefined ? [] : points((s) => s.young[pid]),
  });
  if (pids.size === 1) return [one(run.system, (s) => s.rss[primary], primary)];
  const workers = [...pids].filter((p) => p !== primary);
  const sum = (values: (number | undefined)[]): number | undefined => (values.every((v) => v === undefined) ? undefined : values.reduce<number>((a, v) => a + (v ?? 0), 0));
  return [
    one(`${run.system}: tree`, (s) => sum(Object.values(s.rss))),
    one(`${run.system}: primary`, (s) => s.rss[primary]),
    one(`${run.system}: workers (sum)`, (s) => sum(workers.map((w) => s.rss[w]))),
    ...workers.map((w, i) => one(`${run.system}: worker ${i + 1} (pid ${w})`, (s) => s.rss[w], w)),
  ];
}

/** The highest reading in (fromSec, toSec]. */
function peak(points: readonly { atSec: number; bytes: number }[], fromSec: number, toSec: number): number | undefined {
  let found: number | undefined;
  for (const p of points) if (p.atSec > fromSec && p.atSec <= toSec + 2) found = Math.max(found ?? 0, p.bytes);
  return found;
}

/** The reading at (or just before) `atSec`. */
function at(points: readonly { atSec: number; bytes: number }[], atSec: number): number | undefined {
  let found: number | undefined;
  for (const p of points) if (p.atSec <= atSec + 2) found = p.bytes;
  return found;
}

const mib = (b: number | undefined): string => (b === undefined ? '-' : num(b / MiB, 1));

async function run(ctx: RunContext): Promise<ScenarioReport> {
  const durationMs = isQuick(ctx) ? 60_000 : 300_000;
  const minutes = Math.round(durationMs / 60_000);
  const runs: Run[] = [];
  for (const system of ctx.scenario.systems) {
    if (!selected(system.name)) continue;
    ctx.say(`  ${system.name}: ${durationMs / 1000} s at ${RATE_PER_SEC} req/s`);
    const r = await soak(ctx, system, durationMs);
    if (r !== undefined) runs.push(r);
    // Let the machine settle between systems (the previous one's exit, page cache).
    await sleep(2000);
  }
  const series = runs.flatMap(seriesOf);
  // --quick has one minute: show it in 10 s steps instead.
  const marks = minutes >= 2 ? Array.from({ length: minutes + 1 }, (_, m) => m * 60) : [0, 10, 20, 30, 40, 50, 60];
  const flatFrom = minutes >= 3 ? 120 : Math.round(durationMs / 2000);
  const end = durationMs / 1000;
  // The windows whose peaks the flatness check compares: minute 2 and the last minute (--quick: 20 s each).
  const windowSec = minutes >= 3 ? 60 : 20;
  const refPeak = (s: Series): number | undefined => peak(s.rss, flatFrom - windowSec, flatFrom);
  const lastPeak = (s: Series): number | undefined => peak(s.rss, end - windowSec, end);
  const markTitle = (m: number): string => (m === 0 ? 'start' : minutes >= 2 ? `min ${m / 60}` : `${m} s`);
  const lines = formatTable<Series>(
    [
      { title: 'RSS MiB', value: (s) => s.label },
      ...marks.map((m) => ({ title: markTitle(m), value: (s: Series) => mib(at(s.rss, m)) })),
      { title: `peak ${flatFrom - windowSec}-${flatFrom}s`, value: (s) => mib(refPeak(s)) },
      { title: 'peak last', value: (s) => mib(lastPeak(s)) },
      { title: 'rise', value: (s) => { const a = refPeak(s); const b = lastPeak(s); return a === undefined || b === undefined ? '-' : `${b >= a ? '+' : ''}${num((b - a) / MiB, 1)}`; } },
    ],
    series,
  );
  // Where the RSS goes: V8's young generation (committed) and heap used, read with the RSS.
  const withHeap = series.filter((s) => s.young.length > 0);
  if (withHeap.length > 0) {
    lines.push('', 'young generation committed MiB / heapUsed MiB (GET /__bench/usage, no GC):');
    lines.push(...formatTable<Series>(
      [{ title: 'process', value: (s) => s.label }, ...marks.map((m) => ({ title: markTitle(m), value: (s: Series) => `${mib(at(s.young, m))} / ${mib(at(s.heapUsed, m))}` }))],
      withHeap,
    ));
  }
  lines.push('', 'traffic (open loop, latency from each due time):');
  lines.push(...formatTable<Run & { load: TrafficReport }>(
    [
      { title: 'system', value: (r) => r.system },
      { title: 'load', value: (r) => r.load.name },
      { title: 'ok', value: (r) => `${r.load.statuses['200'] ?? 0}/${r.load.scheduled}` },
      { title: 'failures', value: (r) => failureDetail(r.load) },
      { title: 'p50 ms', value: (r) => num(r.load.okLatencyMs.p50, 1) },
      { title: 'p99 ms', value: (r) => num(r.load.okLatencyMs.p99, 1) },
      { title: 'gen cpu', value: (r) => `${Math.round(r.generatorCpu * 100)}%` },
    ],
    runs.flatMap((r) => r.reports.map((load) => ({ ...r, load }))),
  ));
  lines.push('', `RSS from /proc/<pid>/stat every ${SAMPLE_EVERY_MS / 1000} s (the value shown is the last reading of each minute; peaks over every reading of the window).`);
  lines.push(`${RATE_PER_SEC} req/s in four equal open-loop loads: /fast, /cache?key=<unique> (BoundedCache / lru-cache of 10,000), /g-after-await, /wait-300.`);
  for (const r of runs) for (const leak of r.leaks) lines.push(`${r.system}: ${leak}`);

  const checks: CheckResult[] = [];
  for (const s of series) {
    if (s.label.endsWith(': tree') || s.label.endsWith('(sum)')) continue;
    const a = refPeak(s);
    const b = lastPeak(s);
    if (a === undefined || b === undefined) continue;
    checks.push({
      label: `${s.label}: RSS flat after ${flatFrom} s (peak of the last ${windowSec} s <= peak of ${flatFrom - windowSec}-${flatFrom} s + ${FLAT_BOUND_MIB} MiB)`,
      pass: b - a <= FLAT_BOUND_MIB * MiB,
      detail: `${mib(a)} -> ${mib(b)} MiB`,
    });
  }
  const mean = (s: Series | undefined): number | undefined => {
    const after = s?.rss.filter((p) => p.atSec >= flatFrom) ?? [];
    return after.length === 0 ? undefined : after.reduce((sum, p) => sum + p.bytes, 0) / after.length;
  };
  const vial = mean(series.find((s) => s.label === 'vial'));
  const fastify = mean(series.find((s) => s.label === 'fastify'));
  if (vial !== undefined && fastify !== undefined) {
    checks.push({ label: `vial one process: mean RSS from ${flatFrom} s on <= Fastify's`, pass: vial <= fastify, detail: `${mib(vial)} vs ${mib(fastify)} MiB` });
  }
  const warnings: string[] = [];
  for (const r of runs) {
    for (const load of r.reports) {
      const ok = load.statuses['200'] ?? 0;
      if (ok < load.scheduled * 0.99) warnings.push(`${r.system} ${load.name}: only ${ok}/${load.scheduled} answered 200 (${failureDetail(load)})`);
    }
    if (r.generatorCpu > 0.8) warnings.push(`${r.system}: the generator used ${Math.round(r.generatorCpu * 100)}% of its core`);
  }
  return { lines, checks, warnings, raw: { ratePerSec: RATE_PER_SEC, durationMs, sampleEveryMs: SAMPLE_EVERY_MS, flatBoundMiB: FLAT_BOUND_MIB, runs } };
}

export default scenario;
