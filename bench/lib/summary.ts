/**
 * From run records to the comparison: medians per system, ratios, target checks, warnings and the
 * printed table. Pure.
 */
import { median, minMax, ratio } from './stats.ts';
import { formatTable, num, pct, times } from './table.ts';
import type { Column } from './table.ts';
import type { CheckResult, Generator, Metric, TargetSpec } from './types.ts';
import type { LatencyMs, LoadErrors } from './wrk.ts';

export interface RunRecord {
  readonly round: number;
  /** Position of this system within its round (the order rotates every round). */
  readonly order: number;
  readonly system: string;
  readonly generator: Generator;
  readonly rps: number;
  readonly requests: number;
  readonly durationSec: number;
  readonly latencyMs: LatencyMs;
  readonly errors: LoadErrors;
  /** Shares of one core, averaged over the measured run. */
  readonly generatorCpu: number;
  readonly serverCpu: number;
  readonly serverPeakRssBytes: number;
}

export interface SystemSummary {
  readonly system: string;
  readonly runs: number;
  readonly rps: number;
  readonly rpsMin: number;
  readonly rpsMax: number;
  /**
   * Median of req/s divided by the server's CPU share: requests per CPU-second. When other processes
   * take the server's core, req/s falls but this stays close, so it is the steadier comparison on a
   * shared machine.
   */
  readonly rpsPerCpu: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpu: number;
  readonly generatorCpu: number;
  readonly generatorCpuMax: number;
  readonly peakRssBytes: number;
  /** Failed requests of every kind (socket errors, timeouts, non-2xx/3xx) over all runs. */
  readonly errors: number;
}

/** Above this share of a core the generator, not the server, may be what limits throughput. */
export const GENERATOR_BOUND_CPU = 0.9;
/** Below this share of its core the server was not saturated (or other processes took its core). */
export const SERVER_UNSATURATED_CPU = 0.8;

/**
 * The targets of issue 16, against the right anchors: raw node:http sending vial's exact bytes (the
 * platform's limit: vial's own cost under 5%), Fastify sending the same headers, and Fastify with
 * the plugins that give vial's protections. Requests per CPU-second, which holds still on a shared
 * machine (the ratios are within one run). A target about a system a scenario does not run is not
 * applicable there.
 */
export const FRAMEWORK_TARGETS: readonly TargetSpec[] = Object.freeze([
  { label: 'vial >= 0.95x node:http sending the same bytes', system: 'vial', metric: 'rpsPerCpu', op: '>=', factor: 0.95, of: 'node:http+headers' },
  { label: 'vial >= 1.0x fastify sending the same headers', system: 'vial', metric: 'rpsPerCpu', op: '>=', factor: 1, of: 'fastify+headers' },
  { label: 'vial >= 2.5x fastify with the same protections', system: 'vial', metric: 'rpsPerCpu', op: '>=', factor: 2.5, of: 'fastify-full' },
  { label: 'vial p99 <= plain fastify p99', system: 'vial', metric: 'p99Ms', op: '<=', factor: 1, of: 'fastify' },
]);

export function errorCount(e: LoadErrors): number {
  return e.connect + e.read + e.write + e.timeout + e.status;
}

export function summarise(systems: readonly string[], records: readonly RunRecord[]): SystemSummary[] {
  return systems.map((system) => {
    const runs = records.filter((r) => r.system === system);
    const rps = runs.map((r) => r.rps);
    const { min, max } = minMax(rps);
    return {
      system,
      runs: runs.length,
      rps: median(rps),
      rpsMin: min,
      rpsMax: max,
      rpsPerCpu: median(runs.map((r) => ratio(r.rps, r.serverCpu))),
      p50Ms: median(runs.map((r) => r.latencyMs.p50)),
      p99Ms: median(runs.map((r) => r.latencyMs.p99)),
      serverCpu: median(runs.map((r) => r.serverCpu)),
      generatorCpu: median(runs.map((r) => r.generatorCpu)),
      generatorCpuMax: minMax(runs.map((r) => r.generatorCpu)).max,
      peakRssBytes: minMax(runs.map((r) => r.serverPeakRssBytes)).max,
      errors: runs.reduce((sum, r) => sum + errorCount(r.errors), 0),
    };
  });
}

export function checkTargets(summaries: readonly SystemSummary[], targets: readonly TargetSpec[]): CheckResult[] {
  const bySystem = new Map(summaries.map((s) => [s.system, s]));
  const unit = (metric: Metric): string => (metric === 'rps' ? 'req/s' : metric === 'rpsPerCpu' ? 'req/cpu-s' : 'ms');
  const show = (metric: Metric, value: number): string => (metric.startsWith('rps') ? num(value) : num(value, 2));
  return targets.flatMap((t) => {
    const a = bySystem.get(t.system)?.[t.metric];
    const b = bySystem.get(t.of)?.[t.metric];
    // A target about a system this scenario does not run is simply not applicable.
    if (a === undefined || b === undefined) return [];
    const bound = t.factor * b;
    const pass = Number.isFinite(a) && Number.isFinite(b) && (t.op === '>=' ? a >= bound : a <= bound);
    const boundText = t.factor === 1 ? show(t.metric, b) : `${t.factor}x ${show(t.metric, b)} = ${show(t.metric, bound)}`;
    return [{ label: t.label, pass, detail: `${show(t.metric, a)} ${t.op} ${boundText} ${unit(t.metric)} (${times(ratio(a, b))})` }];
  });
}

export function findWarnings(records: readonly RunRecord[]): string[] {
  const warnings: string[] = [];
  const where = (r: RunRecord): string => `round ${r.round + 1} ${r.system}`;
  for (const r of records) {
    if (r.generatorCpu > GENERATOR_BOUND_CPU) {
      warnings.push(`${where(r)}: ${r.generator} used ${pct(r.generatorCpu)} of its core: the numbers are generator-bound, not server-bound.`);
    }
    const errors = errorCount(r.errors);
    if (errors > 0) {
      const e = r.errors;
      warnings.push(`${where(r)}: ${errors} failed requests (connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}, non-2xx/3xx ${e.status}).`);
    }
  }
  // One line, not one per run: on a busy machine every run may trip it.
  const idle = records.filter((r) => Number.isFinite(r.serverCpu) && r.serverCpu < SERVER_UNSATURATED_CPU);
  if (idle.length > 0) {
    const { min, max } = minMax(idle.map((r) => r.serverCpu));
    warnings.push(
      `${idle.length}/${records.length} runs: the server used only ${pct(min)}..${pct(max)} of its core, so it was not saturated ` +
        '(load too light, or other processes took its core): req/s understates capacity; compare req/cpu-s.',
    );
  }
  return warnings;
}

const COLUMNS: readonly Column<SystemSummary>[] = [
  { title: 'system', value: (s) => s.system },
  { title: 'req/s', value: (s) => num(s.rps) },
  { title: 'min..max', value: (s) => `${num(s.rpsMin)}..${num(s.rpsMax)}` },
  { title: 'req/cpu-s', value: (s) => num(s.rpsPerCpu) },
  { title: 'p50 ms', value: (s) => num(s.p50Ms, 2) },
  { title: 'p99 ms', value: (s) => num(s.p99Ms, 2) },
  { title: 'server cpu', value: (s) => pct(s.serverCpu) },
  { title: 'loadgen cpu', value: (s) => `${pct(s.generatorCpu)} (max ${pct(s.generatorCpuMax)})` },
  { title: 'rss MiB', value: (s) => num(s.peakRssBytes / 1024 / 1024, 1) },
  { title: 'errors', value: (s) => num(s.errors) },
];

/** The table plus "first system / each other" ratio lines. */
export function renderSummary(summaries: readonly SystemSummary[]): string[] {
  const lines = formatTable(COLUMNS, summaries);
  const [first, ...others] = summaries;
  if (first !== undefined) {
    for (const other of others) {
      lines.push(
        `${first.system}/${other.system}: req/s ${times(ratio(first.rps, other.rps))}, req/cpu-s ${times(ratio(first.rpsPerCpu, other.rpsPerCpu))}, p50 ${times(ratio(first.p50Ms, other.p50Ms))}, p99 ${times(ratio(first.p99Ms, other.p99Ms))}`,
      );
    }
  }
  return lines;
}
