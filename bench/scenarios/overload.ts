/**
 * Overload: find vial's peak throughput on `GET /work` (5 ms of non-blocking wait + ~7 KiB of
 * JSON), then offer 3x that rate open-loop (a constant schedule from bench/lib/traffic.ts, latency
 * from each request's due time) to every system. A server that sheds keeps its goodput near its
 * peak and its admitted requests fast; one that queues everything serves them all late.
 */
import { failureDetail, isQuick, ms, selected, withSystem } from '../lib/kit.ts';
import { runLoad } from '../lib/load.ts';
import { formatTable, num, pct } from '../lib/table.ts';
import { runTraffic } from '../lib/traffic-run.ts';
import type { TrafficReport } from '../lib/traffic.ts';
import type { CheckResult, RunContext, Scenario, ScenarioReport } from '../lib/index.ts';

/**
 * `BENCH_OVERLOAD_ROUTE=/cpu` runs the same scenario on a synchronous 0.3 ms route instead of
 * /work: there a refusal costs ~5% of a success rather than ~20%, which is what decides how much
 * goodput any server can keep while it refuses two requests in three.
 */
const ROUTE = process.env['BENCH_OVERLOAD_ROUTE'] ?? '/work';
if (ROUTE !== '/work' && ROUTE !== '/cpu') throw new Error(`overload: BENCH_OVERLOAD_ROUTE must be /work or /cpu, got ${ROUTE}`);
const HANDLER_MS = ROUTE === '/work' ? 5 : 0.3;
const DEFAULT_QUEUE_WAIT_MS = 1000;
const OVERLOAD_FACTOR = 3;
/** Closed-loop concurrency levels tried for the peak: with a 5 ms wait, 64 clients cannot saturate a core. */
const PEAK_CONNECTIONS = [32, 128, 256];

interface PeakProbe {
  readonly connections: number;
  readonly okPerSec: number;
  readonly rps: number;
  readonly p99Ms: number;
  readonly non2xx: number;
}

const scenario: Scenario = {
  name: 'overload',
  description: `GET ${ROUTE} (${ROUTE === '/work' ? '5 ms wait + JSON' : '0.3 ms of synchronous CPU'}) at ${OVERLOAD_FACTOR}x vial's measured peak, open-loop: goodput, admitted p99, share refused`,
  systems: [
    { name: 'vial', server: 'servers/scenario-vial.ts' },
    // Not a target: shows how much of vial's behaviour under overload comes from pressure shedding.
    { name: 'vial (pressure shedding off)', server: 'servers/scenario-vial.ts', env: { BENCH_VIAL_OPTIONS: JSON.stringify({ load: { pressure: { enabled: false } } }) } },
    { name: 'fastify', server: 'servers/scenario-fastify.ts' },
    { name: 'fastify+under-pressure', server: 'servers/scenario-fastify.ts', env: { BENCH_UNDER_PRESSURE: '1' } },
  ],
  run,
};

interface Row {
  readonly system: string;
  readonly report: TrafficReport;
  readonly generatorCpu: number;
}

async function run(ctx: RunContext): Promise<ScenarioReport> {
  const quick = isQuick(ctx);
  const peakSec = quick ? 3 : 8;
  const overloadMs = quick ? 5000 : 15_000;
  const vial = ctx.scenario.systems[0];
  if (vial === undefined) throw new Error('overload: the first system must be vial');

  ctx.say(`  peak: wrk on vial ${ROUTE} at ${PEAK_CONNECTIONS.join(', ')} connections, ${peakSec} s each`);
  const probes = await withSystem(ctx, { ...vial, name: 'vial' }, ROUTE, async (server) => {
    const once = (connections: number, durationSec: number) =>
      runLoad({ url: server.url, load: { path: ROUTE }, durationSec, connections, generator: ctx.generator, pinning: ctx.pinning });
    await once(64, 1);
    const runs: PeakProbe[] = [];
    for (const connections of PEAK_CONNECTIONS) {
      const r = await once(connections, peakSec);
      // Only 200s count: a server that sheds answers 503s quickly, and those are not throughput.
      const ok = r.requests - r.errors.status;
      runs.push({ connections, okPerSec: ok / r.durationSec, rps: r.rps, p99Ms: r.latencyMs.p99, non2xx: r.errors.status });
    }
    return runs;
  });
  if (probes === undefined) throw new Error('overload: BENCH_ONLY must include vial (its peak sets the offered rate)');
  const best = probes.toSorted((a, b) => b.okPerSec - a.okPerSec)[0];
  if (best === undefined) throw new Error('overload: no peak measured');
  const peakRps = best.okPerSec;
  const rate = Math.round(peakRps * OVERLOAD_FACTOR);

  const rows: Row[] = [];
  for (const system of ctx.scenario.systems) {
    if (!selected(system.name)) continue;
    const row = await withSystem(ctx, system, ROUTE, async (server) => {
      ctx.say(`  ${system.name}: ${ROUTE} open-loop at ${rate}/s for ${overloadMs / 1000} s`);
      const { reports, generatorCpu } = await runTraffic(
        { url: server.url, timeoutMs: 10_000, loads: [{ kind: 'open', name: ROUTE.slice(1), path: ROUTE, ratePerSec: rate, durationMs: overloadMs, maxConnections: 1000 }] },
        ctx.pinning,
      );
      return { system: system.name, report: reports[0] as TrafficReport, generatorCpu };
    });
    if (row !== undefined) rows.push(row);
  }

  const share = (r: TrafficReport, status: string): number => (r.statuses[status] ?? 0) / Math.max(1, r.scheduled);
  const lines = [
    `vial peak: the best 200s/s of closed-loop wrk runs (${peakSec} s each, vial defaults): ` +
      probes.map((p) => `${p.connections} conns ${num(p.okPerSec)}/s (p99 ${ms(p.p99Ms)} ms, non-2xx ${p.non2xx})`).join('; '),
    `peak ${num(peakRps)}/s; offered ${num(rate)} req/s (${OVERLOAD_FACTOR}x) open-loop for ${overloadMs / 1000} s`,
    '',
    ...formatTable<Row>(
      [
        { title: 'system', value: (r) => r.system },
        { title: 'offered/s', value: (r) => num(r.report.scheduled / (overloadMs / 1000)) },
        { title: 'goodput/s', value: (r) => num(r.report.okPerSec) },
        { title: 'of peak', value: (r) => pct(r.report.okPerSec / peakRps) },
        { title: '200 p50 ms', value: (r) => ms(r.report.okLatencyMs.p50) },
        { title: '200 p99 ms', value: (r) => ms(r.report.okLatencyMs.p99) },
        { title: 'p99 from send', value: (r) => ms(r.report.okSinceSendMs.p99) },
        { title: '503 share', value: (r) => pct(share(r.report, '503')) },
        { title: 'not 200', value: (r) => failureDetail(r.report) },
        { title: 'conns', value: (r) => String(r.report.peakConnections) },
        { title: 'gen cpu', value: (r) => pct(r.generatorCpu) },
      ],
      rows,
    ),
    '',
    'goodput = 200 answers per second of the schedule; 200 p99 is measured from each request\'s due time (waiting for one of the',
    'generator\'s 1000 connections included); p99 from send = the same 200s timed from the moment they were written (the',
    'server\'s share); unsent = due but no free connection before the schedule ended.',
  ];

  const checks: CheckResult[] = [];
  const limits: Record<string, number> = { vial: DEFAULT_QUEUE_WAIT_MS };
  for (const row of rows) {
    const limit = limits[row.system];
    if (limit === undefined) continue;
    checks.push({ label: `${row.system} goodput >= 90% of peak`, pass: row.report.okPerSec >= 0.9 * peakRps, detail: `${num(row.report.okPerSec)}/s vs 0.9 x ${num(peakRps)} = ${num(0.9 * peakRps)}` });
    checks.push({
      label: `${row.system} admitted p99 <= maxQueueWaitMs + handler (${limit} + ${HANDLER_MS} ms)`,
      pass: row.report.okLatencyMs.p99 <= limit + HANDLER_MS,
      detail: `${ms(row.report.okLatencyMs.p99)} ms`,
    });
    // Not the target (that is the line above): the server's share alone, without the generator's
    // own wait for one of its 1000 connections, which no server setting bounds.
    checks.push({
      label: `${row.system} admitted p99 from send <= maxQueueWaitMs + handler (informational)`,
      pass: row.report.okSinceSendMs.p99 <= limit + HANDLER_MS,
      detail: `${ms(row.report.okSinceSendMs.p99)} ms`,
    });
  }
  const warnings: string[] = [];
  for (const row of rows) {
    if (row.generatorCpu > 0.9) warnings.push(`generator-bound during ${row.system}: the traffic generator used ${pct(row.generatorCpu)} of its core`);
    const offered = row.report.scheduled / (overloadMs / 1000);
    if (offered < 0.95 * rate) warnings.push(`${row.system}: offered ${num(offered)}/s, below the ${num(rate)}/s asked for`);
  }
  return { lines, checks, warnings, raw: { peak: peakRps, probes, rate, overloadMs, rows } };
}

export default scenario;
