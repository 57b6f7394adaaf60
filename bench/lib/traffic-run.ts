/**
 * Starting the traffic generator (traffic-main.ts) pinned to the load CPU and reading its reports,
 * while sampling its CPU: a generator that needs its whole core measures itself, not the server.
 */
import { fileURLToPath } from 'node:url';
import { VialError } from '../../src/errors.ts';
import { pinned, runSampledChild } from './proc.ts';
import type { TrafficReport, TrafficSpec } from './traffic.ts';
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
