/**
 * Starting the traffic generator (traffic-main.ts) pinned to the load CPU and reading its reports,
 * while sampling its CPU: a generator that needs its whole core measures itself, not the server.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VialError } from '../../src/errors.ts';
import { pinned, sampleProcess } from './proc.ts';
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

export function runTraffic(spec: TrafficSpec, pinning: Pinning): Promise<TrafficResult> {
  const [file, args] = pinned(pinning, pinning.loadCpu, process.execPath, [MAIN, JSON.stringify(spec)]);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) {
      child.once('error', reject);
      return;
    }
    const pid = child.pid;
    const sampler = sampleProcess(pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4096)));
    // Bounded: a hung generator is killed by its pid and the run fails with what it printed.
    const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), specBudgetMs(spec) + 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      sampler.stop();
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const cpu = sampler.stop().cpu;
      const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
      if (code !== 0 || line === undefined) {
        reject(new VialError('VIAL_ERR_BENCH_LOAD', `bench: the traffic generator against ${spec.url} failed (exit ${String(code)}).\n${stderr}${stdout}`.trimEnd()));
        return;
      }
      // JSON turns NaN (no answers to take a percentile of) into null: turn it back.
      const reports = JSON.parse(line.slice(MARKER.length), (_key, value: unknown) => (value === null ? Number.NaN : value)) as TrafficReport[];
      resolve({ reports, generatorCpu: cpu });
    });
  });
}
