/**
 * Starting the traffic generator (traffic-main.ts) pinned to the load CPU and reading its reports,
 * while sampling its CPU: a generator that needs its whole core measures itself, not the server.
 */
import { fileURLToPath } from 'node:url';
import { VialError } from '../../src/errors.ts';
import { pinned, runSampledChild } from './proc.ts';
import type { LatencySummary, TrafficReport, TrafficSpec } from './traffic.ts';
import type { Pinning } from './types.ts';

const MAIN = fileURLToPath(new URL('./traffic-main.ts', import.meta.url));
const MARKER = 'VIAL_TRAFFIC ';

export interface TrafficResult {
  readonly reports: readonly TrafficReport[];
  /** The generator's average share of one core (1 = a full core). */
  readonly generatorCpu: number;
}

/** The longest a spec can legitimately run: its loads' schedules plus the request timeout. */
export function specBudgetMs(spec: TrafficSpec): number {
  let longest = 0;
  for (const load of spec.loads) {
    const own = load.kind === 'open' ? load.durationMs : (load.durationMs ?? 10 * 60_000);
    longest = Math.max(longest, (load.startAfterMs ?? 0) + own);
  }
  return longest + spec.timeoutMs;
}

export async function runTraffic(spec: TrafficSpec, pinning: Pinning): Promise<TrafficResult> {
  const [file, args] = pinned(pinning, pinning.loadCpu, process.execPath, [MAIN, JSON.stringify(spec)]);
  const { stdout, stderr, code, cpu } = await runSampledChild(file, args, specBudgetMs(spec) + 30_000);
  const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
  if (code !== 0 || line === undefined) {
    throw new VialError('VIAL_ERR_BENCH_LOAD', `bench: the traffic generator against ${spec.url} failed (exit ${String(code)}).\n${stderr}${stdout}`.trimEnd());
  }
  // JSON turns NaN (no answers to take a percentile of) into null: turn it back.
  const reports = JSON.parse(line.slice(MARKER.length), (_key, value: unknown) => (value === null ? Number.NaN : value)) as TrafficReport[];
  return { reports, generatorCpu: cpu };
}

/**
 * The same spec from `parts` generator processes at once, each with 1/parts of every open load's
 * rate and connections, their reports merged: counts and rates add up; a latency percentile is
 * the worse of the parts' (an upper bound, since the raw samples stay in the children); CPU is
 * their sum (they share the load CPU). For rates one process cannot schedule on time.
 */
export async function runTrafficSplit(spec: TrafficSpec, pinning: Pinning, parts: number): Promise<TrafficResult> {
  if (parts <= 1) return runTraffic(spec, pinning);
  const part: TrafficSpec = {
    ...spec,
    loads: spec.loads.map((l) => (l.kind === 'open' ? { ...l, ratePerSec: l.ratePerSec / parts, maxConnections: Math.ceil(l.maxConnections / parts) } : l)),
  };
  const results = await Promise.all(Array.from({ length: parts }, () => runTraffic(part, pinning)));
  const reports = spec.loads.map((_load, i) => mergeReports(results.map((r) => r.reports[i] as TrafficReport)));
  return { reports, generatorCpu: results.reduce((sum, r) => sum + r.generatorCpu, 0) };
}

function mergeReports(parts: readonly TrafficReport[]): TrafficReport {
  const first = parts[0] as TrafficReport;
  const sum = (pick: (r: TrafficReport) => number): number => parts.reduce((s, r) => s + pick(r), 0);
  const worst = (pick: (r: TrafficReport) => LatencySummary): LatencySummary => {
    const all = parts.map(pick);
    const max = (k: keyof LatencySummary): number => Math.max(...all.map((l) => l[k]));
    const count = all.reduce((s, l) => s + l.count, 0);
    const mean = count === 0 ? Number.NaN : all.reduce((s, l) => s + (l.count === 0 ? 0 : l.mean * l.count), 0) / count;
    return { count, mean, p50: max('p50'), p90: max('p90'), p99: max('p99'), max: max('max') };
  };
  const statuses: Record<string, number> = {};
  for (const r of parts) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    name: first.name,
    kind: first.kind,
    durationSec: Math.max(...parts.map((r) => r.durationSec)),
    scheduled: sum((r) => r.scheduled),
    sent: sum((r) => r.sent),
    unsent: sum((r) => r.unsent),
    statuses,
    errors: { connect: sum((r) => r.errors.connect), read: sum((r) => r.errors.read), timeout: sum((r) => r.errors.timeout) },
    latencyMs: worst((r) => r.latencyMs),
    okLatencyMs: worst((r) => r.okLatencyMs),
    okSinceSendMs: worst((r) => r.okSinceSendMs),
    okPerSec: sum((r) => r.okPerSec),
    deadlineOkPerSec: sum((r) => r.deadlineOkPerSec),
    sendLagMs: { p99: Math.max(...parts.map((r) => r.sendLagMs.p99)), max: Math.max(...parts.map((r) => r.sendLagMs.max)) },
    peakConnections: sum((r) => r.peakConnections),
  };
}
