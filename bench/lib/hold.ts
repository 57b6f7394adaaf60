/**
 * The shape shared by pool-exhaustion and blocking-route: 20 clients keep `GET /slow` busy while a
 * separate open-loop client sends `GET /fast` at a steady rate; the report is /fast's latency
 * (measured from each request's scheduled time) and its failures, per system.
 */
import { failureDetail, failures, isQuick, latencyCells, selected, withSystem } from './kit.ts';
import { formatTable, pct } from './table.ts';
import { runTraffic } from './traffic-run.ts';
import type { TrafficReport } from './traffic.ts';
import type { CheckResult, RunContext, ScenarioReport } from './types.ts';

export interface HoldTarget {
  readonly system: string;
  /** /fast p99 must be under this; `undefined`: only report. */
  readonly maxP99Ms?: number;
  /** Errors must be zero. */
  readonly noErrors?: boolean;
  /** Check that /fast still answers: at least 90% of it got 200. */
  readonly answers?: boolean;
}

export interface HoldOptions {
  readonly slowClients: number;
  readonly fastRatePerSec: number;
  readonly targets: readonly HoldTarget[];
  /** Lines printed under the table (how each system was run). */
  readonly notes?: readonly string[];
}

interface Row {
  readonly system: string;
  readonly fast: TrafficReport;
  readonly slow: TrafficReport;
  readonly generatorCpu: number;
}

export async function runHold(ctx: RunContext, options: HoldOptions): Promise<ScenarioReport> {
  const holdMs = isQuick(ctx) ? 5000 : 10_000;
  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const system of ctx.scenario.systems) {
    const row = await withSystem(ctx, system, '/fast', async (server) => {
      // Warm-up, unmeasured: JIT and lazy initialisation must not land in /fast's percentiles.
      await runTraffic({ url: server.url, timeoutMs: 10_000, loads: [{ kind: 'closed', name: 'warmup', path: '/fast', connections: 4, totalRequests: 2000, durationMs: 5000 }] }, ctx.pinning);
      ctx.say(`  ${system.name}: ${options.slowClients} clients on /slow for ${holdMs / 1000} s, /fast at ${options.fastRatePerSec}/s`);
      const { reports, generatorCpu } = await runTraffic(
        {
          url: server.url,
          timeoutMs: 10_000,
          loads: [
            { kind: 'closed', name: 'slow', path: '/slow', connections: options.slowClients, durationMs: holdMs },
            // Starts once the slow clients hold the server, ends before they let go.
            { kind: 'open', name: 'fast', path: '/fast', ratePerSec: options.fastRatePerSec, durationMs: holdMs - 1000, startAfterMs: 500, maxConnections: 64 },
          ],
        },
        ctx.pinning,
      );
      const [slow, fast] = reports as [TrafficReport, TrafficReport];
      return { system: system.name, fast, slow, generatorCpu };
    });
    if (row === undefined) {
      if (selected(system.name)) skipped.push(system.name);
    }
    else rows.push(row);
  }

  const lines = formatTable<Row>(
    [
      { title: 'system', value: (r) => r.system },
      { title: '/fast p50 ms', value: (r) => latencyCells(r.fast.latencyMs)[0] },
      { title: 'p99 ms', value: (r) => latencyCells(r.fast.latencyMs)[1] },
      { title: 'max ms', value: (r) => latencyCells(r.fast.latencyMs)[2] },
      { title: '/fast ok', value: (r) => `${r.fast.statuses['200'] ?? 0}/${r.fast.scheduled}` },
      { title: '/fast errors', value: (r) => failureDetail(r.fast) },
      { title: '/slow ok', value: (r) => String(r.slow.statuses['200'] ?? 0) },
      { title: '/slow errors', value: (r) => failureDetail(r.slow) },
      { title: 'gen cpu', value: (r) => pct(r.generatorCpu) },
    ],
    rows,
  );
  lines.push('', `hold ${holdMs / 1000} s; /fast open-loop at ${options.fastRatePerSec}/s, latency from each request's scheduled time; request timeout 10 s.`);
  for (const note of options.notes ?? []) lines.push(note);
  for (const name of skipped) lines.push(`${name}: skipped (gunicorn missing)`);

  const checks: CheckResult[] = [];
  for (const target of options.targets) {
    const row = rows.find((r) => r.system === target.system);
    if (row === undefined) continue;
    const p99 = row.fast.latencyMs.p99;
    const errors = failures(row.fast);
    if (target.maxP99Ms !== undefined) {
      checks.push({ label: `${target.system} /fast p99 < ${target.maxP99Ms} ms`, pass: p99 < target.maxP99Ms, detail: `${p99.toFixed(1)} ms` });
    }
    if (target.noErrors === true) checks.push({ label: `${target.system} /fast without errors`, pass: errors === 0, detail: failureDetail(row.fast) });
    if (target.answers === true) {
      const ok = row.fast.statuses['200'] ?? 0;
      // "Answers" means most of /fast got through: a handful of 200s out of hundreds is a stall.
      checks.push({ label: `${target.system} /fast still answers (>= 90% answered 200)`, pass: ok >= 0.9 * row.fast.scheduled, detail: `${ok}/${row.fast.scheduled} answered 200, p50 ${row.fast.latencyMs.p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, errors ${failureDetail(row.fast)}` });
    }
  }
  const warnings = rows.filter((r) => r.generatorCpu > 0.9).map((r) => `generator-bound during ${r.system}: the traffic generator used ${pct(r.generatorCpu)} of its core`);
  return { lines, checks, warnings, raw: { holdMs, options, rows } };
}
