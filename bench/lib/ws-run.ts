/**
 * Running the WebSocket load generator (ws-load.ts) pinned to the load CPU, reacting to its marker
 * lines while it runs: the server's CPU is sampled over the measured echo window only, and its RSS
 * is read while the idle sockets are held open. Bounded: a generator still running after its
 * budget is killed by its pid.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VialError } from '../../src/errors.ts';
import { pinned, readProc, sampleProcess } from './proc.ts';
import type { ProcSampler } from './proc.ts';
import type { Pinning } from './types.ts';
import type { WsEchoReport, WsLoadSpec } from './ws-load.ts';

const MAIN = fileURLToPath(new URL('./ws-load.ts', import.meta.url));
/** Opening 1,000 sockets and closing them again, on top of the windows themselves. */
const SLACK_MS = 60_000;
/** After the last idle socket opened: let the server finish its per-socket allocations. */
const IDLE_SETTLE_MS = 1000;

export interface WsEchoResult {
  readonly report: WsEchoReport;
  /** The server's share of one core over the measured window (1 = a full core). */
  readonly serverCpu: number;
  /** The generator's share of one core over its whole life. */
  readonly generatorCpu: number;
}

export interface WsIdleResult {
  readonly sockets: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
  readonly bytesPerSocket: number;
}

interface Generator {
  readonly pid: number;
  readonly sampler: ProcSampler;
  /** Resolves with stdout, stderr tail and exit code once the generator has exited. */
  readonly done: Promise<{ stdout: string; stderr: string; code: number | null }>;
  end(): void;
}

function startGenerator(spec: WsLoadSpec, pinning: Pinning, onLine: (line: string) => void): Generator {
  const [file, args] = pinned(pinning, pinning.loadCpu, process.execPath, [MAIN, JSON.stringify(spec)]);
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new VialError('VIAL_ERR_BENCH_LOAD', `bench: could not start the WebSocket load generator (${file}).`);
  const pid = child.pid;
  const sampler = sampleProcess(pid);
  let stdout = '';
  let pending = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    pending += s;
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-16_384)));
  const budgetMs = spec.warmupMs + spec.durationMs + SLACK_MS;
  const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), budgetMs);
  const done = new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
  return { pid, sampler, done, end: () => child.stdin.end() };
}

function failed(what: string, url: string, run: { stderr: string; stdout: string; code: number | null }): VialError {
  return new VialError('VIAL_ERR_BENCH_LOAD', `bench: the WebSocket ${what} generator against ${url} failed (exit ${String(run.code)}).\n${run.stderr}${run.stdout}`.trimEnd());
}

/** The echo loop; the server's CPU is sampled from the generator's VIAL_WS_MEASURE line to its report. */
export async function runWsEcho(spec: Omit<WsLoadSpec, 'mode'>, serverPid: number, pinning: Pinning): Promise<WsEchoResult> {
  let server: ProcSampler | undefined;
  let serverCpu = Number.NaN;
  const generator = startGenerator({ ...spec, mode: 'echo' }, pinning, (line) => {
    if (line === 'VIAL_WS_MEASURE') server = sampleProcess(serverPid);
    else if (line.startsWith('VIAL_WS_REPORT ') && server !== undefined) serverCpu = server.stop().cpu;
  });
  const run = await generator.done;
  const generatorCpu = generator.sampler.stop().cpu;
  const line = run.stdout.split('\n').find((l) => l.startsWith('VIAL_WS_REPORT '));
  if (run.code !== 0 || line === undefined) throw failed('echo', spec.url, run);
  // JSON turns NaN (no echo to take a percentile of) into null: turn it back.
  const report = JSON.parse(line.slice('VIAL_WS_REPORT '.length), (_key, value: unknown) => (value === null ? Number.NaN : value)) as WsEchoReport;
  return { report, serverCpu, generatorCpu };
}

/** Server RSS before and after `connections` idle sockets open (read from /proc/<pid>/stat). */
export async function runWsIdle(url: string, connections: number, serverPid: number, pinning: Pinning): Promise<WsIdleResult> {
  const rssBeforeBytes = readProc(serverPid)?.rssBytes ?? Number.NaN;
  let opened = 0;
  let resolveOpen: () => void = () => undefined;
  const open = new Promise<void>((resolve) => (resolveOpen = resolve));
  const generator = startGenerator({ mode: 'idle', url, connections, warmupMs: 0, durationMs: 30_000, messageBytes: 0 }, pinning, (line) => {
    if (!line.startsWith('VIAL_WS_OPEN ')) return;
    opened = Number(line.slice('VIAL_WS_OPEN '.length));
    resolveOpen();
  });
  const exited = generator.done.then((run) => {
    if (opened === 0) throw failed('idle', url, run);
  });
  await Promise.race([open, exited]);
  await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
  const rssAfterBytes = readProc(serverPid)?.rssBytes ?? Number.NaN;
  generator.end();
  await exited;
  generator.sampler.stop();
  return { sockets: opened, rssBeforeBytes, rssAfterBytes, bytesPerSocket: (rssAfterBytes - rssBeforeBytes) / Math.max(1, opened) };
}
